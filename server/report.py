"""Who the report names: the lead auditor, the facility participants, the reviewer, and the
people behind each consent (names and roles, never raw actor ids).

Shared by the report page and the report sealed at completion (server/export.py), so both
say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import certificate_repo, repo, walkthrough_repo
from server.db.models import Audit
from server.views import iso

ROLES = {"staff": "Facility staff", "auditor": "Auditor"}


@dataclass(frozen=True, slots=True)
class People:
    lead_auditor: str | None
    participants: list[str]  # facility staff who joined, by invite label, in order of joining
    reviewer: str | None  # who reviewed it last (none before review, e.g. in the report sealed at completion)
    consents: list[dict[str, Any]]  # {name, role, accepted_at}

    def to_json(self) -> dict[str, Any]:
        return {
            "lead_auditor": self.lead_auditor,
            "participants": self.participants,
            "reviewer": self.reviewer,
        }


async def people(s: AsyncSession, audit: Audit) -> People:
    """The report's people, read in ``s``."""
    events = await repo.list_events(s, audit.id)
    consents = await walkthrough_repo.consents(s, audit.id)
    reviews = await certificate_repo.reviews(s, audit.id)
    staff = [e.actor for e in events if e.kind == "join" and e.data.get("role") == "staff"]
    lead = f"user:{audit.lead_auditor_id}"
    names = await repo.display_names(s, {lead, *staff, *(c.actor for c in consents)})
    participants = list(dict.fromkeys(names.get(actor, "Facility staff") for actor in staff))
    return People(
        lead_auditor=names.get(lead),
        participants=participants,
        reviewer=reviews[-1].reviewer_name if reviews else None,
        consents=[
            {
                "name": names.get(c.actor, c.actor),
                "role": ROLES.get(c.role, c.role),
                "accepted_at": iso(c.accepted_at),
            }
            for c in consents
        ],
    )
