"""Development TLS: a local CA and a server certificate for localhost and this machine's LAN addresses.

Phones only open the camera on a secure origin; on a LAN that means HTTPS. The CA is made
once and reused; the server certificate is re-made when an address it must cover changes.
Phones trust the CA after downloading it from the login page (/certs/ca.pem).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.settings import Settings

CA_NAME = "ca.pem"
CA_KEY = "ca.key"
SERVER_NAME = "server.pem"
SERVER_KEY = "server.key"


def ca_cert_path(settings: Settings) -> Path:
    return settings.certs_dir / CA_NAME


def lan_addresses() -> list[str]:
    """This machine's addresses a phone on the same network might use (best effort, no traffic)."""
    found: set[str] = {"127.0.0.1"}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it only picks a route
            found.add(s.getsockname()[0])
    except OSError:
        pass
    return sorted(found)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "virtual-audit development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _load_or_make_ca(certs: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = certs / CA_NAME, certs / CA_KEY
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("virtual-audit development CA"))
        .issuer_name(_name("virtual-audit development CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _covers(cert_path: Path, names: list[str]) -> bool:
    if not cert_path.exists():
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=7):
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} | set(
        san.get_values_for_type(x509.DNSName)
    )
    return set(names) <= have


def ensure_dev_certificate(certs: Path, addresses: list[str] | None = None) -> tuple[Path, Path]:
    """Return (certfile, keyfile) of a server certificate signed by the development CA."""
    certs.mkdir(parents=True, exist_ok=True)
    ips = addresses if addresses is not None else lan_addresses()
    dns = ["localhost", socket.gethostname()]
    cert_path, key_path = certs / SERVER_NAME, certs / SERVER_KEY
    if _covers(cert_path, dns + ips) and key_path.exists():
        return cert_path, key_path
    ca_cert, ca_key = _load_or_make_ca(certs)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    alt = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("virtual-audit server"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=397))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_tls_files(settings: Settings) -> tuple[Path, Path]:
    """The certificate and key to serve with: the configured ones, or development ones."""
    if settings.certfile is not None and settings.keyfile is not None:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            settings.certfile, settings.keyfile
        )
        return settings.certfile, settings.keyfile
    return ensure_dev_certificate(settings.certs_dir)
