"""Why an invite link does not open on the phone, in words for the person holding it.

Each problem has a code and English text; the phone's page renders both (``data-i18n``),
so a translation catalogue can replace the text by code. Phone pages never link to the
auditors' sign-in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import repo
from server.db.models import Audit, Invite, utcnow

MAX_TOKEN_CHARS = 200


@dataclass(frozen=True)
class LinkProblem:
    code: str
    status: int
    title: str
    message: str
    # The link's audit, when the link was one: the page shows the photos of it still on the phone.
    audit_id: str | None = None


UNKNOWN = LinkProblem(
    "link_unknown",
    404,
    "This link does not work",
    "This link is not an invite to an audit. Check that you opened the whole link from the "
    "message, or ask the auditor to send it again.",
)
REVOKED = LinkProblem(
    "link_revoked",
    410,
    "This link was withdrawn",
    "The auditor withdrew this invite link. If you should still take part, ask the auditor for a new one.",
)
EXPIRED = LinkProblem(
    "link_expired",
    410,
    "This link has expired",
    "This invite link was valid until {until}. Ask the auditor for a new one.",
)
COMPLETED = LinkProblem(
    "audit_completed",
    410,
    "This audit is finished",
    "The audit this link was for has been completed. Nothing more is needed from you. Thank you.",
)


def problem_of(invite: Invite | None, audit: Audit | None, now: dt.datetime) -> LinkProblem | None:
    """What is wrong with the link, or None when the phone may open it."""
    if invite is None or audit is None:
        return UNKNOWN
    if audit.status != "open":
        return COMPLETED
    if invite.revoked_at is not None:
        return REVOKED
    if invite.expires_at <= now:
        until = invite.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        return LinkProblem(EXPIRED.code, EXPIRED.status, EXPIRED.title, EXPIRED.message.format(until=until))
    return None


async def open_link(s: AsyncSession, token: str) -> tuple[Invite, Audit] | LinkProblem:
    """The invite and its audit behind a phone's link, or why it cannot be opened."""
    invite = await repo.find_invite(s, token) if len(token) <= MAX_TOKEN_CHARS else None
    audit = await repo.get_audit(s, invite.audit_id) if invite else None
    problem = problem_of(invite, audit, utcnow())
    if problem is not None:
        return dataclasses.replace(problem, audit_id=audit.id) if audit is not None else problem
    assert invite is not None and audit is not None
    return invite, audit
