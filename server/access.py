"""The policy at the HTTP edge: who is asking, may they, and the trace of who read evidence.

Every route, page and socket goes through these functions, so the answers are the same
everywhere: an audit the caller may not see is a 404 exactly like a missing one, one they
may see but not change is a 403, and a write to a completed audit is a 409.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from server import capa_links
from server.auth import current_actor
from server.context import ctx
from server.db import access_repo, evidence_repo, repo
from server.db.models import AccessRecord, Audit, CapaLink, Evidence
from server.errors import ApiError
from server.policy import Action, Actor, AuditFacts, Decision, decide, link_decide


class AccessAction:
    """What the access log records (``action`` of GET /api/audits/{id}/access-log)."""

    VIEW_IMAGE = "view_image"
    VIEW_RECORDING = "view_recording"
    REPLAY = "replay"
    EXPORT = "export"
    SHARE = "share"
    UNSHARE = "unshare"


@dataclass(frozen=True)
class Granted:
    """An actor the policy let do an action on an audit."""

    actor: Actor
    audit: Audit
    facts: AuditFacts


async def require_actor(conn: HTTPConnection) -> Actor:
    actor = await current_actor(conn)
    if actor is None:
        raise ApiError(401, "unauthorized", "sign in or send 'Authorization: Bearer <token>'")
    return actor


async def require(conn: HTTPConnection, action: Action) -> Actor:
    """A service-wide action (create an audit, manage templates, administer)."""
    actor = await require_actor(conn)
    if decide(actor, action) is not Decision.ALLOWED:
        raise ApiError(
            403, "forbidden", f"your role ({actor.role.value}) may not {action.value.replace('-', ' ')}"
        )
    return actor


def not_found(audit_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no audit {audit_id!r}")


def enforce(actor: Actor, action: Action, audit: Audit, facts: AuditFacts) -> None:
    """Raise the policy's answer: 404 hidden, 403 forbidden, then 409 for writes to a sealed audit."""
    decision = decide(actor, action, facts)
    if decision is Decision.HIDDEN:
        raise not_found(audit.id)
    if decision is Decision.FORBIDDEN:
        raise ApiError(403, "forbidden", f"your role ({actor.role.value}) may not {action.value} this audit")
    if action.writes and facts.completed:
        raise ApiError(409, "audit_completed", "the audit is completed and sealed: nothing can be added")


async def audit_and_facts(conn: HTTPConnection, audit_id: str) -> tuple[Audit, AuditFacts] | None:
    async with ctx(conn).db.session() as s:
        audit = await repo.get_audit(s, audit_id)
        if audit is None:
            return None
        return audit, await access_repo.facts(s, audit)


async def granted(conn: HTTPConnection, action: Action, audit_id: str | None = None) -> Granted:
    """The caller, if the policy lets them do ``action`` on the audit of the path."""
    actor = await require_actor(conn)
    audit_id = audit_id if audit_id is not None else str(conn.path_params["audit_id"])
    found = await audit_and_facts(conn, audit_id) if len(audit_id) <= 64 else None
    if found is None:
        raise not_found(audit_id)
    audit, facts = found
    enforce(actor, action, audit, facts)
    return Granted(actor, audit, facts)


async def granted_evidence(conn: HTTPConnection, action: Action) -> tuple[Granted, Evidence]:
    """An evidence item of the path and its audit, under the same rule as the audit itself."""
    actor = await require_actor(conn)
    evidence_id = str(conn.path_params["evidence_id"])
    async with ctx(conn).db.session() as s:
        row = await evidence_repo.get_evidence(s, evidence_id) if len(evidence_id) <= 64 else None
    missing = ApiError(404, "not_found", "no such evidence item")
    if row is None:
        raise missing
    found = await audit_and_facts(conn, row.audit_id)
    if found is None:
        raise missing
    audit, facts = found
    try:
        enforce(actor, action, audit, facts)
    except ApiError as exc:
        raise (missing if exc.status == 404 else exc) from None
    return Granted(actor, audit, facts), row


def client_address(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None


async def log_access(conn: HTTPConnection, g: Granted, action: str, target: str) -> None:
    """Record that the caller read (or shared) this audit's evidence, before the answer goes out."""
    async with ctx(conn).db.session() as s:
        s.add(access_repo.access_record(g.actor, g.audit.id, action, target, client_address(conn)))
        await s.commit()


@dataclass(frozen=True)
class LinkGranted:
    """A facility's corrective-action link the policy let do an action on its audit."""

    link: CapaLink
    audit: Audit


async def granted_link(conn: HTTPConnection, action: Action, audit_id: str | None = None) -> LinkGranted:
    """The link of the path's ``token``, if the policy lets it do ``action`` (on ``audit_id``,
    by default its own audit). A revoked, unknown or out-of-scope link is a 404."""
    link, audit = await capa_links.valid_link(ctx(conn), str(conn.path_params["token"]))
    if link_decide(action, link.audit_id, audit_id or audit.id) is not Decision.ALLOWED:
        raise ApiError(404, "not_found", "this corrective-action link does not reach that")
    return LinkGranted(link, audit)


async def log_link_access(conn: HTTPConnection, g: LinkGranted, action: str, target: str) -> None:
    """Record that a facility's link read this audit's evidence (its own responses, an original
    capture): the access log's row names the link by its id, with the role ``facility``."""
    record = AccessRecord(
        audit_id=g.audit.id,
        user_id=g.link.id,
        user_name="The facility (corrective-action link)",
        user_email="",
        org_id="",
        org_name=g.audit.facility_name[:300],
        org_kind="facility",
        role="facility",
        action=action,
        target=target[:300],
        address=(client_address(conn) or "")[:100] or None,
    )
    async with ctx(conn).db.session() as s:
        s.add(record)
        await s.commit()
