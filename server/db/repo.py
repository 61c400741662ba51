"""Data access: every read and write of the metadata store goes through these functions."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from recorder.ledger import utc_ms
from server.db import org_repo
from server.db.ledger_repo import commit_with_entry
from server.db.models import Audit, AuditEvent, Base, Credential, Facility, Invite, User, utcnow
from server.policy import Actor, visible_audits
from server.secrets_util import hash_password, new_token, token_digest, verify_password

_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"


class Conflict(Exception):
    """A row with the same unique key exists."""


@dataclass(frozen=True)
class IssuedSecret:
    """A freshly made secret: the only moment its clear text exists."""

    id: str
    token: str
    expires_at: dt.datetime | None


async def create_user(
    s: AsyncSession, email: str, name: str, password: str, org: str | None = None, role: str | None = None
) -> User:
    """A new user in organisation ``org`` (id or name; default: the only audit firm) with ``role``."""
    organisation, chosen = await org_repo.placement(s, org, role)
    user = User(
        email=email.strip().lower(),
        name=name.strip(),
        password_hash=await asyncio.to_thread(hash_password, password),
        org_id=organisation.id,
        role=chosen.value,
    )
    s.add(user)
    try:
        await s.commit()
    except IntegrityError as exc:
        await s.rollback()
        raise Conflict(f"a user with email {user.email} exists") from exc
    return user


async def user_by_email(s: AsyncSession, email: str) -> User | None:
    return (await s.execute(select(User).where(User.email == email.strip().lower()))).scalar_one_or_none()


async def authenticate(s: AsyncSession, email: str, password: str) -> User | None:
    user = await user_by_email(s, email)
    if user is None:
        # Same work either way so timing does not reveal which emails exist.
        await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
        return None
    ok = await asyncio.to_thread(verify_password, user.password_hash, password)
    return user if ok else None


async def issue_credential(
    s: AsyncSession, user: User, kind: str, lifetime: dt.timedelta | None
) -> IssuedSecret:
    token = new_token(32)
    expires = utcnow() + lifetime if lifetime is not None else None
    cred = Credential(user_id=user.id, kind=kind, secret_hash=token_digest(token), expires_at=expires)
    s.add(cred)
    await s.commit()
    return IssuedSecret(cred.id, token, expires)


async def revoke_credential(s: AsyncSession, token: str) -> None:
    await s.execute(
        update(Credential).where(Credential.secret_hash == token_digest(token)).values(revoked_at=utcnow())
    )
    await s.commit()


async def create_audit(
    s: AsyncSession,
    actor: Actor,
    *,
    title: str | None,
    facility: Facility,
    template_key: str | None = None,
    template_snapshot: dict[str, Any] | None = None,
) -> Audit:
    """A new audit of ``facility``; the audit keeps a copy of its name, country and address."""
    audit = Audit(
        title=title or f"Security audit — {facility.name}",
        facility_id=facility.id,
        facility_name=facility.name,
        facility_country=facility.country,
        facility_address=facility.address,
        created_by=actor.user_id,
        firm_id=actor.org_id,
        lead_auditor_id=actor.user_id,
        template_key=template_key,
        template_snapshot=template_snapshot,
    )
    s.add(audit)
    await s.commit()
    return audit


async def list_audits(s: AsyncSession, actor: Actor, limit: int = 200) -> list[Audit]:
    """The newest audits ``actor`` may see (the policy's rule, applied in the query)."""
    rows = await s.execute(
        select(Audit).where(visible_audits(actor)).order_by(Audit.created_at.desc()).limit(limit)
    )
    return list(rows.scalars())


async def get_audit(s: AsyncSession, audit_id: str) -> Audit | None:
    return await s.get(Audit, audit_id)


async def create_invite(
    s: AsyncSession, audit: Audit, actor: Actor, *, label: str | None, ttl: dt.timedelta
) -> tuple[Invite, str]:
    token = new_token(16)
    invite = Invite(
        audit_id=audit.id,
        token_hash=token_digest(token),
        label=label,
        created_by=actor.user_id,
        expires_at=utcnow() + ttl,
    )
    s.add(invite)
    await s.commit()
    return invite, token


async def list_invites(s: AsyncSession, audit_id: str) -> list[Invite]:
    rows = await s.execute(select(Invite).where(Invite.audit_id == audit_id).order_by(Invite.created_at))
    return list(rows.scalars())


async def revoke_invite(s: AsyncSession, audit_id: str, invite_id: str) -> Invite | None:
    invite = await s.get(Invite, invite_id)
    if invite is None or invite.audit_id != audit_id:
        return None
    if invite.revoked_at is None:
        invite.revoked_at = utcnow()
        await s.commit()
    return invite


async def find_invite(s: AsyncSession, token: str) -> Invite | None:
    """The invite behind a token, whatever its state (to tell a phone why a link fails)."""
    return (
        await s.execute(select(Invite).where(Invite.token_hash == token_digest(token)))
    ).scalar_one_or_none()


async def valid_invite(s: AsyncSession, token: str) -> Invite | None:
    """The invite behind a token if it is neither expired nor revoked."""
    invite = await find_invite(s, token)
    if invite is None or invite.revoked_at is not None or invite.expires_at <= utcnow():
        return None
    return invite


async def record_event(
    s: AsyncSession,
    audit_id: str,
    kind: str,
    actor: str,
    data: dict[str, Any],
    *,
    sealing: bool = False,
    rows: Sequence[Base] = (),
) -> None:
    """Log an audit event and append it to the audit's evidence ledger, in one transaction.

    ``sealing`` marks the completion event, the only one allowed as the audit is sealed;
    ``rows`` are committed with it (the completion's corrective actions).
    """
    event = AuditEvent(audit_id=audit_id, kind=kind, actor=actor, data=data)

    def entry() -> dict[str, Any]:
        return {"type": "event", "kind": kind, "actor": actor, "data": data, "at": utc_ms(event.at)}

    await commit_with_entry(s, audit_id, [*rows, event], entry, sealing=sealing)


async def display_names(s: AsyncSession, actors: set[str]) -> dict[str, str]:
    """Event and consent actors (``user:<id>``, ``invite:<id>``) → the name people know them by:
    a user's name, an invite's label ("Facility staff" when it has none)."""
    users = {a.removeprefix("user:") for a in actors if a.startswith("user:")}
    invites = {a.removeprefix("invite:") for a in actors if a.startswith("invite:")}
    names: dict[str, str] = {}
    if users:
        rows = await s.execute(select(User.id, User.name).where(User.id.in_(users)))
        names |= {f"user:{uid}": name for uid, name in rows}
    if invites:
        rows = await s.execute(select(Invite.id, Invite.label).where(Invite.id.in_(invites)))
        names |= {f"invite:{iid}": label or "Facility staff" for iid, label in rows}
    return names


async def list_events(s: AsyncSession, audit_id: str) -> list[AuditEvent]:
    rows = await s.execute(select(AuditEvent).where(AuditEvent.audit_id == audit_id).order_by(AuditEvent.seq))
    return list(rows.scalars())
