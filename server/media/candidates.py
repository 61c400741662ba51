"""Which of a browser's trickled ICE candidates the server may send connectivity checks to.

A candidate names an address the server then sends STUN packets to: without limits a
client could point the server at its own loopback services or at link-local hosts next
to it, and make it parse thousands of candidates. So each peer connection takes at most
:data:`MAX_CANDIDATES`, and loopback, link-local, unspecified and multicast addresses
(also behind an mDNS ``.local`` name) are refused unless the server itself listens only
on loopback (the demo and the tests, where everything is loopback).
"""

from __future__ import annotations

import ipaddress
import logging

from aioice import mdns
from aioice.ice import get_or_create_mdns_protocol, unref_mdns_protocol
from aiortc import RTCIceCandidate

log = logging.getLogger(__name__)

# A dual-stack browser with Wi-Fi, cellular and a TURN server trickles ~10-20 candidates
# per connection; 50 leaves room and bounds the work of checking them.
MAX_CANDIDATES = 50
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class CandidateRefused(ValueError):
    """A candidate the server will not use; ``code`` goes back to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def loopback_only(host: str) -> bool:
    """Does a server listening on ``host`` only talk to this machine?"""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def refusal(address: str) -> str | None:
    """Why an address is not one to send checks to, or None if it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified or ip.is_multicast:
        return "not a unicast address"
    return None


async def resolve_mdns(host: str, owner: object) -> str | None:
    """The address behind an mDNS ``.local`` name (what aioice would resolve it to)."""
    protocol = await get_or_create_mdns_protocol(owner)
    try:
        return await protocol.resolve(host)
    finally:
        await unref_mdns_protocol(owner)


async def checked(candidate: RTCIceCandidate, allow_loopback: bool) -> RTCIceCandidate:
    """The candidate to add (an mDNS name replaced by its address), or :class:`CandidateRefused`."""
    if allow_loopback:
        return candidate
    if mdns.is_mdns_hostname(candidate.ip):
        resolved = await resolve_mdns(candidate.ip, candidate)
        if resolved is None:
            raise CandidateRefused("candidate_refused", f"{candidate.ip} could not be resolved")
        candidate.ip = resolved
    reason = refusal(candidate.ip)
    if reason is not None:
        raise CandidateRefused("candidate_refused", f"the candidate's address is {reason}; not used")
    return candidate
