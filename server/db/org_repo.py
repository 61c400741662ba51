"""Organisations, their users, and the credentials that make a user an actor."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Credential, LoginFailure, Organisation, User, utcnow
from server.policy import ROLES_OF_KIND, Actor, OrgKind, Role, role_fits
from server.secrets_util import token_digest

DEFAULT_FIRM = "Default audit firm"


class OrgError(Exception):
    """An organisation or role that cannot be used as asked; the message says why."""


async def create_org(s: AsyncSession, kind: OrgKind, name: str) -> Organisation:
    name = name.strip()
    if not name or len(name) > 300:
        raise OrgError("an organisation needs a name of 1 to 300 characters")
    org = Organisation(kind=kind.value, name=name)
    s.add(org)
    try:
        await s.commit()
    except IntegrityError as exc:
        await s.rollback()
        raise OrgError(f"an organisation named {name!r} exists") from exc
    return org


async def list_orgs(s: AsyncSession) -> list[Organisation]:
    return list(
        (await s.execute(select(Organisation).order_by(Organisation.kind, Organisation.name))).scalars()
    )


async def get_org(s: AsyncSession, org_id: str) -> Organisation | None:
    return await s.get(Organisation, org_id)


async def find_org(s: AsyncSession, ref: str) -> Organisation:
    """An organisation by id or exact name."""
    org = await s.get(Organisation, ref)
    if org is None:
        org = (await s.execute(select(Organisation).where(Organisation.name == ref))).scalar_one_or_none()
    if org is None:
        raise OrgError(f"no organisation with id or name {ref!r} ('virtual-audit org list' shows them)")
    return org


async def default_org(s: AsyncSession) -> Organisation:
    """Where a user goes when no organisation is named: the only audit firm."""
    firms = list(
        (await s.execute(select(Organisation).where(Organisation.kind == OrgKind.AUDIT_FIRM.value))).scalars()
    )
    if len(firms) != 1:
        names = ", ".join(repr(f.name) for f in firms) or "none"
        raise OrgError(f"there are {len(firms)} audit firms ({names}): name one with --org")
    return firms[0]


async def placement(s: AsyncSession, org_ref: str | None, role: str | None) -> tuple[Organisation, Role]:
    """Check that ``role`` fits the organisation's kind; defaults: the only firm, auditor."""
    org = await find_org(s, org_ref) if org_ref else await default_org(s)
    kind = OrgKind(org.kind)
    try:
        chosen = Role(role) if role else (Role.AUDITOR if kind is OrgKind.AUDIT_FIRM else None)
    except ValueError as exc:
        raise OrgError(f"unknown role {role!r}: one of {', '.join(r.value for r in Role)}") from exc
    if chosen is None or not role_fits(kind, chosen):
        fits = " or ".join(r.value for r in ROLES_OF_KIND[kind])
        given = f"role {chosen.value!r}" if chosen else "no role"
        raise OrgError(f"{given} does not fit {org.name!r}, a {kind.value}: use --role {fits}")
    return org, chosen


async def list_users(s: AsyncSession, org_id: str | None = None) -> list[tuple[User, Organisation]]:
    q = select(User, Organisation).join(Organisation, Organisation.id == User.org_id)
    if org_id is not None:
        q = q.where(User.org_id == org_id)
    rows = await s.execute(q.order_by(Organisation.name, User.email))
    return [(u, o) for u, o in rows.all()]


def actor_of(user: User, org: Organisation, credential_id: str | None = None) -> Actor:
    return Actor(
        user_id=user.id,
        name=user.name,
        email=user.email,
        role=Role(user.role),
        org_id=org.id,
        org_name=org.name,
        org_kind=OrgKind(org.kind),
        credential_id=credential_id,
    )


async def actor_for_credential(s: AsyncSession, token: str, kinds: tuple[str, ...]) -> Actor | None:
    """The actor behind a session or API token that is neither expired nor revoked."""
    row = (
        await s.execute(
            select(Credential, User, Organisation)
            .join(User, User.id == Credential.user_id)
            .join(Organisation, Organisation.id == User.org_id)
            .where(Credential.secret_hash == token_digest(token), Credential.kind.in_(kinds))
        )
    ).first()
    if row is None:
        return None
    cred, user, org = row
    if cred.revoked_at is not None or (cred.expires_at is not None and cred.expires_at <= utcnow()):
        return None
    return actor_of(user, org, cred.id)


async def actor_for_user(s: AsyncSession, user_id: str) -> Actor | None:
    row = (
        await s.execute(
            select(User, Organisation)
            .join(Organisation, Organisation.id == User.org_id)
            .where(User.id == user_id)
        )
    ).first()
    return actor_of(row[0], row[1]) if row else None


async def revoke_user_credentials(s: AsyncSession, user_id: str) -> int:
    """Revoke every session and API token of a user; returns how many were live."""
    result = await s.execute(
        update(Credential)
        .where(Credential.user_id == user_id, Credential.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await s.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def dead_credentials(s: AsyncSession, ids: set[str]) -> set[str]:
    """Which of these credentials are revoked or expired now."""
    if not ids:
        return set()
    now = utcnow()
    rows = await s.execute(
        select(Credential.id, Credential.revoked_at, Credential.expires_at).where(Credential.id.in_(ids))
    )
    alive = {
        i for i, revoked, expires in rows.all() if revoked is None and (expires is None or expires > now)
    }
    return ids - alive


# -- sign-in throttling --------------------------------------------------------------------


async def failures_since(s: AsyncSession, email: str, address: str, since: dt.datetime) -> tuple[int, int]:
    """Failed sign-ins since ``since``: (for this email from this address, from this address)."""
    by_email = await s.scalar(
        select(func.count()).where(
            LoginFailure.email == email, LoginFailure.address == address, LoginFailure.at > since
        )
    )
    by_addr = await s.scalar(
        select(func.count()).where(LoginFailure.address == address, LoginFailure.at > since)
    )
    return int(by_email or 0), int(by_addr or 0)


async def oldest_failure(
    s: AsyncSession, email: str | None, address: str, since: dt.datetime
) -> dt.datetime | None:
    q = select(func.min(LoginFailure.at)).where(LoginFailure.address == address, LoginFailure.at > since)
    if email is not None:
        q = q.where(LoginFailure.email == email)
    value = await s.scalar(q)
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def add_failure(s: AsyncSession, email: str, address: str, keep_since: dt.datetime) -> None:
    s.add(LoginFailure(email=email, address=address))
    await s.execute(delete(LoginFailure).where(LoginFailure.at <= keep_since))
    await s.commit()


async def clear_failures(s: AsyncSession, email: str) -> None:
    await s.execute(delete(LoginFailure).where(LoginFailure.email == email))
    await s.commit()
