"""The phone's join page says why a link does not open: made up, revoked, expired, audit completed."""

from __future__ import annotations

import datetime as dt

from server.db.models import Invite
from tests.support import COMPLETE_ANYWAY, LiveServer, new_audit, new_invite


async def test_each_broken_link_gets_its_own_message_and_no_sign_in_link(
    server: LiveServer, api_token: str
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        revoked = await new_invite(http, audit_id)
        await http.delete(f"/api/audits/{audit_id}/invites/{revoked['id']}")
        expired = await new_invite(http, audit_id)
        valid = await new_invite(http, audit_id)
        done_id = await new_audit(http, "Finished Ltd")
        finished = await new_invite(http, done_id)
        assert (await http.post(f"/api/audits/{done_id}/complete", json=COMPLETE_ANYWAY)).status_code == 200
    async with server.app_ctx().db.session() as s:
        row = await s.get(Invite, expired["id"])
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        await s.commit()

    cases = [
        ("made-up-token-0123456789", 404, "link_unknown", "not an invite"),
        (revoked["token"], 410, "link_revoked", "withdrew this invite link"),
        (expired["token"], 410, "link_expired", "was valid until"),
        (finished["token"], 410, "audit_completed", "has been completed"),
    ]
    async with server.client() as anonymous:
        for token, status, code, words in cases:
            for path in (f"/join/{token}", f"/join/{token}/check"):
                page = await anonymous.get(path)
                assert page.status_code == status, (path, code)
                assert f'data-code="{code}"' in page.text and words in page.text, (path, code)
                assert f'data-i18n="{code}.title"' in page.text
                assert "/login" not in page.text and 'href="/"' not in page.text, (path, code)
        for path in (f"/join/{valid['token']}", f"/join/{valid['token']}/check"):
            page = await anonymous.get(path)
            assert page.status_code == 200
            assert "/login" not in page.text and 'href="/"' not in page.text, path


async def test_a_link_opened_while_its_audit_is_being_completed_says_it_is_finished(
    server: LiveServer, api_token: str
) -> None:
    """The phones are told the audit is finished before the completion commits (the report is
    sealed, the ledger signed): a link opened in between is finished, not a live page."""
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    sealing = server.app_ctx().sockets.sealing
    sealing.add(audit_id)
    try:
        async with server.client() as anonymous:
            for path in (f"/join/{invite['token']}", f"/join/{invite['token']}/check"):
                page = await anonymous.get(path)
                assert page.status_code == 410, path
                assert 'data-code="audit_completed"' in page.text, path
                assert f'"audit_id": "{audit_id}"' in page.text, "the page cannot offer the photos kept"
    finally:
        sealing.discard(audit_id)
    async with server.client() as anonymous:
        assert (await anonymous.get(f"/join/{invite['token']}")).status_code == 200
