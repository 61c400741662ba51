"""Who may see or do what: the one access policy every route, page, socket and command asks.

An actor (a signed-in user with their organisation and role) asks for an action on an
audit, or on the service itself. The answer is one of three:

- ``Decision.HIDDEN``: the actor may not know the audit exists (answer as if it did not: 404);
- ``Decision.FORBIDDEN``: the actor may see the audit but not do this (403);
- ``Decision.ALLOWED``.

Lists answer the same question in SQL (``visible_audits``), so they are filtered by the
query, not after it. docs/operations.md ("Roles and sharing") has the table this encodes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, select, true

from server.db.models import Audit, Share


class OrgKind(enum.StrEnum):
    ASSOCIATION = "association"
    AUDIT_FIRM = "audit-firm"
    MEMBER = "member"
    AGENCY = "agency"


class Role(enum.StrEnum):
    ADMIN = "admin"
    AUDITOR = "auditor"
    REVIEWER = "reviewer"
    MEMBER = "member"
    AGENCY = "agency"


ROLES_OF_KIND: dict[OrgKind, tuple[Role, ...]] = {
    OrgKind.ASSOCIATION: (Role.ADMIN,),
    OrgKind.AUDIT_FIRM: (Role.AUDITOR, Role.REVIEWER),
    OrgKind.MEMBER: (Role.MEMBER,),
    OrgKind.AGENCY: (Role.AGENCY,),
}


class Action(enum.StrEnum):
    """Everything an actor can ask to do. Audit actions first, then service-wide ones."""

    VIEW = "view"  # the audit's record: details, checkpoints, outcome, report, ledger, proofs
    VIEW_EVIDENCE = "view-evidence"  # pictures, recording, replay, export package
    WATCH = "watch"  # join the live session as an auditor
    RUN = "run"  # direct and record: invites, captures, checkpoint moves, results, annotations, completion
    ASSIGN = "assign"  # add or remove auditors of the firm who may run the audit
    SHARE = "share"  # share a completed audit with a member organisation, or stop sharing
    VIEW_ACCESS_LOG = "view-access-log"  # who read this audit's evidence
    REVIEW = "review"  # the firm's quality review of a completed audit
    CAPA_LINK = "capa-link"  # give the facility (or revoke) its link to answer corrective actions
    DECIDE_CAPA = "decide-capa"  # accept or reject the facility's response to a corrective action
    # The facility's corrective-action link (a token, never an account): answer its audit's
    # actions, read back the photos and videos of its responses and each finding's original
    # capture (to re-take it from the same angle). Nothing else; see ``link_decide``.
    CAPA_ANSWER = "capa-answer"
    CREATE_AUDIT = "create-audit"
    MANAGE_TEMPLATES = "manage-templates"
    ADMINISTER = "administer"  # organisations, users, their tokens
    REVOKE_CERTIFICATE = "revoke-certificate"
    READ_REPOSITORY = "read-repository"  # every entry of the repository log
    VIEW_FACILITIES = "view-facilities"  # the facility registry and certificate status (not audits)
    REGISTER_FACILITY = "register-facility"
    MANAGE_SUPPLIERS = "manage-suppliers"  # a member's supplier links, portfolio and attestation

    @property
    def writes(self) -> bool:
        """Actions that change a live audit: refused with 409 once the audit is completed."""
        return self in (Action.RUN,)


SERVICE_ACTIONS = (
    Action.CREATE_AUDIT,
    Action.MANAGE_TEMPLATES,
    Action.ADMINISTER,
    Action.REVOKE_CERTIFICATE,
    Action.READ_REPOSITORY,
    Action.VIEW_FACILITIES,
    Action.REGISTER_FACILITY,
    Action.MANAGE_SUPPLIERS,
)


class Decision(enum.Enum):
    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"
    HIDDEN = "hidden"


@dataclass(frozen=True)
class Actor:
    """A signed-in user as the policy sees them; built once per request."""

    user_id: str
    name: str
    email: str
    role: Role
    org_id: str
    org_name: str
    org_kind: OrgKind
    credential_id: str | None = None

    def label(self) -> str:
        """How the evidence ledger and event log name this actor."""
        return f"user:{self.user_id}"


@dataclass(frozen=True)
class AuditFacts:
    """What the policy needs to know about an audit."""

    id: str
    firm_id: str
    completed: bool
    lead_auditor_id: str
    assigned: frozenset[str] = frozenset()
    shared_with: frozenset[str] = frozenset()


def role_fits(kind: OrgKind, role: Role) -> bool:
    return role in ROLES_OF_KIND[kind]


def may_see(actor: Actor, audit: AuditFacts) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role in (Role.AUDITOR, Role.REVIEWER):
        return actor.org_id == audit.firm_id
    if actor.role is Role.AGENCY:
        return audit.completed
    if actor.role is Role.MEMBER:
        return audit.completed and actor.org_id in audit.shared_with
    return False


def _firm(actor: Actor, audit: AuditFacts) -> bool:
    return actor.org_id == audit.firm_id


def _runs(actor: Actor, audit: AuditFacts) -> bool:
    """The lead auditor and the auditors assigned to the audit."""
    return (
        actor.role is Role.AUDITOR
        and _firm(actor, audit)
        and (actor.user_id == audit.lead_auditor_id or actor.user_id in audit.assigned)
    )


def _ran(actor: Actor, audit: AuditFacts) -> bool:
    return actor.user_id == audit.lead_auditor_id or actor.user_id in audit.assigned


def _allowed(actor: Actor, action: Action, audit: AuditFacts) -> bool:
    admin = actor.role is Role.ADMIN
    firm = _firm(actor, audit) and actor.role in (Role.AUDITOR, Role.REVIEWER)
    if action in (Action.VIEW, Action.VIEW_EVIDENCE):
        return True  # whoever may see an audit may read all of it
    if action is Action.WATCH:
        return admin or firm
    if action is Action.RUN:
        return admin or _runs(actor, audit)
    if action is Action.ASSIGN:
        return admin or (_firm(actor, audit) and actor.role is Role.AUDITOR)
    if action in (Action.SHARE, Action.VIEW_ACCESS_LOG):
        return admin or firm
    if action is Action.CAPA_LINK:
        return admin or (_firm(actor, audit) and actor.role is Role.AUDITOR)
    if action is Action.DECIDE_CAPA:  # the firm's auditors and reviewers
        return firm
    if action is Action.REVIEW:  # never by whoever ran the audit
        return _firm(actor, audit) and actor.role is Role.REVIEWER and not _ran(actor, audit)
    return False


def decide(actor: Actor, action: Action, audit: AuditFacts | None = None) -> Decision:
    """May ``actor`` do ``action`` (on ``audit``, for audit actions)?"""
    if action in SERVICE_ACTIONS:
        return Decision.ALLOWED if _service_allowed(actor, action) else Decision.FORBIDDEN
    if audit is None or not may_see(actor, audit):
        return Decision.HIDDEN
    return Decision.ALLOWED if _allowed(actor, action, audit) else Decision.FORBIDDEN


def link_decide(action: Action, link_audit_id: str, audit_id: str) -> Decision:
    """May a facility's corrective-action link of ``link_audit_id`` do ``action`` on ``audit_id``?

    A link reaches its own audit only, and only to answer it: anything else is hidden (404),
    exactly like an audit a signed-in user may not see."""
    if action is Action.CAPA_ANSWER and link_audit_id == audit_id:
        return Decision.ALLOWED
    return Decision.HIDDEN


def can(actor: Actor, action: Action, audit: AuditFacts | None = None) -> bool:
    return decide(actor, action, audit) is Decision.ALLOWED


def _service_allowed(actor: Actor, action: Action) -> bool:
    if action is Action.CREATE_AUDIT:
        return actor.role is Role.AUDITOR
    if action is Action.MANAGE_TEMPLATES:
        return actor.role in (Role.ADMIN, Role.AUDITOR)
    if action in (Action.ADMINISTER, Action.REVOKE_CERTIFICATE):
        return actor.role is Role.ADMIN
    if action is Action.READ_REPOSITORY:
        return actor.role in (Role.ADMIN, Role.AGENCY)
    if action is Action.VIEW_FACILITIES:
        return True  # facility identities are not confidential within the association
    if action is Action.REGISTER_FACILITY:
        return actor.role in (Role.ADMIN, Role.AUDITOR)
    if action is Action.MANAGE_SUPPLIERS:
        return actor.role is Role.MEMBER
    return False


def visible_audits(actor: Actor) -> ColumnElement[bool]:
    """The audits ``actor`` may see, as a SQL condition on ``Audit`` (same rule as ``may_see``)."""
    if actor.role is Role.ADMIN:
        return true()
    if actor.role in (Role.AUDITOR, Role.REVIEWER):
        return Audit.firm_id == actor.org_id
    completed = Audit.status == "completed"
    if actor.role is Role.AGENCY:
        return completed
    if actor.role is Role.MEMBER:
        shared = exists(select(Share.id).where(Share.audit_id == Audit.id, Share.org_id == actor.org_id))
        return and_(completed, shared)
    return false()
