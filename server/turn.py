"""Short-lived TURN credentials per participant: the TURN REST API scheme coturn checks.

With ``use-auth-secret`` and ``static-auth-secret=SECRET`` coturn accepts any username of
the form ``<expiry unix time>:<anything>`` whose password is
``base64(HMAC-SHA1(SECRET, username))``, until that expiry. The server shares the secret with
coturn (``--turn-secret``) and hands each participant, in its ``welcome``, a username made of
an expiry and its participant id (so coturn's log names the participant of every relay).

A credential is valid for at most :data:`MAX_TTL`, and never beyond what lets the
participant in: an invite's expiry for a phone, the session's or API token's expiry for a
signed-in auditor. Every ``welcome`` (every reconnect) brings a fresh one.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Any

MAX_TTL = dt.timedelta(hours=12)
# A TURN client refreshes its allocation with the same username; a credential this close to
# its end is not worth handing out (the participant's access is about to end anyway).
MIN_TTL = dt.timedelta(seconds=1)


def credential(secret: str, username: str) -> str:
    """The password coturn expects for ``username``: base64 of HMAC-SHA1 with the shared secret."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def expiry(now: dt.datetime, access_ends: dt.datetime | None) -> dt.datetime | None:
    """When a credential handed out ``now`` must end: at most :data:`MAX_TTL` away, never after
    ``access_ends`` (None: no end of its own). None if too little time is left to hand one out."""
    end = now + MAX_TTL
    if access_ends is not None:
        end = min(end, access_ends)
    return end if end - now >= MIN_TTL else None


def username(expires: dt.datetime, subject: str) -> str:
    """``<expiry unix time>:<subject>``; the subject must not contain the separator."""
    if ":" in subject or not subject:
        raise ValueError("a TURN subject is a non-empty id without ':'")
    return f"{int(expires.timestamp())}:{subject}"


def ice_servers(
    urls: tuple[str, ...],
    secret: str | None,
    subject: str,
    now: dt.datetime,
    access_ends: dt.datetime | None,
) -> list[dict[str, Any]]:
    """The RTCIceServer entries for the TURN URLs, with this participant's credential.

    Empty when there is no TURN server, or when the participant's access ends too soon.
    """
    if not urls or secret is None:
        return []
    ends = expiry(now, access_ends)
    if ends is None:
        return []
    user = username(ends, subject)
    password = credential(secret, user)
    return [{"urls": url, "username": user, "credential": password} for url in urls]
