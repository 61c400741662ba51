"""Where invite links point: configuration only, never the request's Host header.

A request's ``Host`` is whatever the client wrote: taken as the link's base, anyone who
can reach the API with a forged ``Host`` gets invite links to their own server. Links
use ``--public-url``; without it, the address the server was started on.
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from server.settings import Settings
from server.tls import lan_addresses

log = logging.getLogger(__name__)
_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def invite_base(settings: Settings) -> str:
    """The base URL of invite links (no trailing slash). May look up this host's addresses."""
    if settings.public_url is not None:
        return settings.public_url.rstrip("/")
    host = settings.host
    if host in _WILDCARDS:
        # Listening everywhere: a LAN address is what a phone can reach (loopback is never it).
        lan = [a for a in lan_addresses() if not a.startswith("127.")]
        host = lan[0] if lan else "127.0.0.1"
    return f"{settings.scheme}://{_bracketed(host)}:{settings.port}"


def _bracketed(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:  # a host name
        return host


def announce(settings: Settings, base: str) -> None:
    """Say once, at start-up, where invite links point when nobody configured it."""
    if settings.public_url is None:
        log.warning(
            "invite links use %s (no --public-url); set --public-url if phones reach this server "
            "by another name or port",
            base,
        )


def on_loopback(base: str) -> bool:
    """Whether links with this base name this machine only, so a phone cannot open them."""
    host = urlsplit(base).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may well resolve on the LAN
        return False


def join_url(base: str, token: str) -> str:
    return f"{base}/join/{token}"
