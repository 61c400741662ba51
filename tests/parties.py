"""A multi-party repository for tests: the association, two audit firms, members, the agency."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import cv2
import httpx
import numpy as np

from server.db import org_repo, repo
from server.policy import OrgKind
from tests.support import COMPLETE_ANYWAY, PASSWORD, LiveServer, new_invite

# name: (organisation, role)
PEOPLE = {
    "admin": ("Association", "admin"),
    "lead": ("Firm A", "auditor"),
    "a2": ("Firm A", "auditor"),
    "reviewer": ("Firm A", "reviewer"),
    "auditor_b": ("Firm B", "auditor"),
    "member1": ("Importer One", "member"),
    "member2": ("Importer Two", "member"),
    "agency": ("Customs", "agency"),
}
ORGS = {
    "Association": OrgKind.ASSOCIATION,
    "Firm A": OrgKind.AUDIT_FIRM,
    "Firm B": OrgKind.AUDIT_FIRM,
    "Importer One": OrgKind.MEMBER,
    "Importer Two": OrgKind.MEMBER,
    "Customs": OrgKind.AGENCY,
}


@dataclass
class Parties:
    server: LiveServer
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)
    org_ids: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None) -> httpx.AsyncClient:
        return self.server.client(self.tokens[who] if who else None)

    def email(self, who: str) -> str:
        return f"{who}@example.org"


async def make_parties(server: LiveServer) -> Parties:
    parties = Parties(server)
    async with server.app_ctx().db.session() as s:
        for name, kind in ORGS.items():
            parties.org_ids[name] = (await org_repo.create_org(s, kind, name)).id
        for who, (org, role) in PEOPLE.items():
            user = await repo.create_user(s, parties.email(who), who.title(), PASSWORD, org, role)
            parties.user_ids[who] = user.id
            issued = await repo.issue_credential(s, user, "api", dt.timedelta(days=1))
            parties.tokens[who] = issued.token
    return parties


def jpeg(text: str = "gate", width: int = 160, height: int = 120) -> bytes:
    image = np.full((height, width, 3), 90, np.uint8)
    cv2.putText(image, text, (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


async def audit_with_photo(parties: Parties, facility: str) -> dict[str, Any]:
    """An open audit of Firm A (lead auditor: ``lead``) with one photo from the facility."""
    async with parties.client("lead") as http:
        r = await http.post("/api/audits", json={"facility": {"name": facility, "country": "VN"}})
        assert r.status_code == 201, r.text
        audit = r.json()
        invite = await new_invite(http, audit["id"])
        photo = await http.post(
            f"/api/audits/{audit['id']}/photos",
            files={"file": ("gate.jpg", jpeg(facility), "image/jpeg")},
            headers={"Authorization": f"Invite {invite['token']}"},
        )
        assert photo.status_code == 201, photo.text
    return {"audit": audit, "invite": invite, "photo": photo.json()}


async def complete(parties: Parties, audit_id: str) -> None:
    async with parties.client("lead") as http:
        r = await http.post(f"/api/audits/{audit_id}/complete", json=COMPLETE_ANYWAY)
        assert r.status_code == 200, r.text


async def share(parties: Parties, audit_id: str, org: str) -> None:
    async with parties.client("lead") as http:
        r = await http.post(f"/api/audits/{audit_id}/shares", json={"org": parties.org_ids[org]})
        assert r.status_code == 201, r.text
