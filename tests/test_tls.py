from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509

from server.tls import ensure_dev_certificate


def test_dev_certificate_covers_addresses_and_is_reused(tmp_path: Path) -> None:
    cert, key = ensure_dev_certificate(tmp_path, ["127.0.0.1", "192.0.2.10"])
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "192.0.2.10"}
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    # It verifies against the CA a phone downloads.
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    context.load_cert_chain(cert, key)
    before = cert.read_bytes()
    ensure_dev_certificate(tmp_path, ["127.0.0.1"])
    assert cert.read_bytes() == before
    ca_before = (tmp_path / "ca.pem").read_bytes()
    ensure_dev_certificate(tmp_path, ["127.0.0.1", "198.51.100.7"])
    assert cert.read_bytes() != before  # a new address needs a new certificate...
    assert (tmp_path / "ca.pem").read_bytes() == ca_before  # ...from the same CA
