"""The network test bed itself: the phone's namespace reaches the server's address, a dropped
link does not, a new address works, a shaped uplink has its token bucket, nothing is left."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

from tests.netbed import NetBed, ip, needs_root, netbed, tc

pytestmark = needs_root

CONNECT = """
import socket, sys
s = socket.socket()
s.settimeout(2)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print(s.getsockname()[0], s.recv(10).decode())
except OSError as e:
    print("failed", e)
"""


def serve(listener: socket.socket) -> None:
    """Answer every connection with 'hi' until the listener is closed."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"hi")


def route_to(address: str) -> str:
    """Where the root namespace sends packets for ``address`` (an error for a blackhole)."""
    done = subprocess.run(
        ["ip", "route", "get", address], capture_output=True, text=True, timeout=20, check=False
    )
    return (done.stdout + done.stderr).strip()


def phone_connects(bed: NetBed, listener: socket.socket) -> str:
    """What the phone sees connecting to the server's address: 'ADDRESS hi' or 'failed ...'."""
    host, port = listener.getsockname()
    return bed.run(sys.executable, "-c", CONNECT, host, str(port)).stdout.strip()


def test_links_faults_and_cleanup() -> None:
    with netbed() as bed, socket.socket() as listener:
        listener.bind((bed.server_host, 0))
        listener.listen(4)
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        first = bed.phone_address
        out = phone_connects(bed, listener)
        assert out.startswith(first), f"stage: first link: {out}"

        bed.link_down()
        out = phone_connects(bed, listener)
        assert out.startswith("failed"), f"stage: phone side down, still connected: {out}"
        bed.link_up()
        assert phone_connects(bed, listener).startswith(first), "stage: after link_up (phone side)"

        bed.link_down(side="server")
        out = phone_connects(bed, listener)
        assert out.startswith("failed"), f"stage: server side down, still connected: {out}"
        # The server's packets for the phone stay on this machine while its link is down.
        route = route_to(first)
        assert " dev " not in route, f"stage: server side down, packets for the phone go: {route}"
        bed.link_up()
        assert phone_connects(bed, listener).startswith(first), "stage: after link_up (server side)"

        second = bed.change_address()
        assert second != first
        out = phone_connects(bed, listener)
        assert out.startswith(second), f"stage: after change_address: {out}"
        assert first not in ip("-n", bed.ns, "-o", "addr", "show", "up"), "the old address is still up"
        route = route_to(first)
        assert " dev " not in route, f"stage: after change_address, packets for the old address go: {route}"

        bed.shape(256)
        assert "rate 256Kbit" in tc("-n", bed.ns, "qdisc", "show", "dev", bed.phone_dev())
        assert phone_connects(bed, listener).startswith(second), "stage: shaped link"
        bed.unshape()
        assert "tbf" not in tc("-n", bed.ns, "qdisc", "show", "dev", bed.phone_dev())
        ns, tag, link_net = bed.ns, bed.tag, f"10.214.{bed.octet}.0/24"
    assert link_net not in ip("route", "show", "type", "blackhole"), "the blackhole route was left behind"
    assert ns not in ip("netns", "list"), "the namespace was left behind"
    assert f"vn{tag}" not in ip("-o", "link", "show"), "a veth was left behind"
    assert f"lo:vn{tag}" not in ip("-o", "addr", "show", "dev", "lo"), "the server address was left behind"
