"""A real coturn (Debian's ``turnserver``) on loopback for the tests that need a TURN relay.

It runs with the TURN REST API scheme (``use-auth-secret``) and a generated configuration in
a temporary folder, listens on a free loopback port (and, if asked, TURN over TLS on another
with a certificate from a generated CA), allows loopback peers (all test traffic stays on
this machine) and logs to a file there. It is ready when it answers a
STUN Binding request on its port; it is stopped (and waited for) whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.tls import CA_NAME, ensure_dev_certificate

TURNSERVER = os.environ.get("VAUDIT_TURNSERVER", "/usr/sbin/turnserver")
REALM = "vaudit.test"
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
MAGIC_COOKIE = 0x2112A442


@dataclass(frozen=True)
class Coturn:
    host: str
    port: int
    secret: str
    log_file: Path
    tls_port: int | None = None
    ca_file: Path | None = None  # the CA that signed its TLS certificate

    @property
    def udp_url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=udp"

    @property
    def tcp_url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=tcp"

    @property
    def tls_url(self) -> str:
        """TURN over TLS (``turns:``), as on port 443 in production (docs/operations.md)."""
        assert self.tls_port is not None, "coturn was started without TLS"
        return f"turns:{self.host}:{self.tls_port}?transport=tcp"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


def turnserver_binary() -> str:
    found = TURNSERVER if os.path.exists(TURNSERVER) else shutil.which("turnserver")
    if found is None:
        pytest.fail("coturn's turnserver not found: install Debian's coturn package (make test does)")
    return found


def free_port() -> int:
    """A port free for both UDP and TCP on loopback (coturn listens on both)."""
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port for coturn")


def tls_lines(folder: Path, tls_port: int | None) -> list[str]:
    """TURN over TLS on ``tls_port`` with a certificate for 127.0.0.1, or TLS off."""
    if tls_port is None:
        return ["no-tls"]
    cert, key = ensure_dev_certificate(folder / "certs", ["127.0.0.1"])
    return [f"tls-listening-port={tls_port}", f"cert={cert}", f"pkey={key}", "no-tlsv1", "no-tlsv1_1"]


def config(port: int, secret: str, folder: Path, tls_port: int | None = None) -> str:
    return "\n".join(
        [
            "listening-ip=127.0.0.1",
            "relay-ip=127.0.0.1",
            f"listening-port={port}",
            # Relay ports from a range of their own, away from the ephemeral ports tests bind.
            "min-port=40000",
            "max-port=40999",
            "use-auth-secret",
            f"static-auth-secret={secret}",
            f"realm={REALM}",
            "fingerprint",
            *tls_lines(folder, tls_port),
            "no-dtls",
            "no-cli",
            "allow-loopback-peers",  # the test's browser and server are on this machine
            "no-multicast-peers",
            f"userdb={folder / 'turndb'}",
            f"pidfile={folder / 'turnserver.pid'}",
            f"log-file={folder / 'turn.log'}",
            "simple-log",
            "no-stdout-log",
            "verbose",
            "",
        ]
    )


def stun_binding_answered(host: str, port: int, timeout: float = 0.5) -> bool:
    """Does something answer a STUN Binding request at host:port (UDP)?"""
    txid = secrets.token_bytes(12)
    request = (0x0001).to_bytes(2, "big") + (0).to_bytes(2, "big") + MAGIC_COOKIE.to_bytes(4, "big") + txid
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(request, (host, port))
            data, _ = s.recvfrom(2048)
        except OSError:
            return False
    return len(data) >= 20 and data[0:2] == b"\x01\x01" and data[8:20] == txid


@contextlib.contextmanager
def running_coturn(folder: Path, secret: str | None = None, tls: bool = False) -> Iterator[Coturn]:
    """Start coturn with a generated configuration in ``folder``; stop it on the way out."""
    binary = turnserver_binary()
    secret = secret or secrets.token_urlsafe(24)
    port = free_port()
    tls_port = free_port() if tls else None
    conf = folder / "turnserver.conf"
    conf.write_text(config(port, secret, folder, tls_port))
    conf.chmod(0o600)
    ca_file = folder / "certs" / CA_NAME if tls else None
    server = Coturn("127.0.0.1", port, secret, folder / "turn.log", tls_port, ca_file)
    errors = (folder / "stderr.log").open("wb")
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not stun_binding_answered(server.host, port):
            if proc.poll() is not None:
                err = (folder / "stderr.log").read_text(errors="replace")
                pytest.fail(
                    f"coturn exited with {proc.returncode} while starting: {err[-1000:]} {tail(server)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"coturn did not answer STUN on port {port} in {READY_TIMEOUT_S:.0f} s: {tail(server)}"
                )
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT_S)
        errors.close()


def tail(server: Coturn) -> str:
    return server.log()[-2000:]
