"""Reviews and certificates: the firm's quality review of a completed audit, and what it issues.

A reviewer of the audit's firm accepts a completed audit or returns it to the auditor.
Accepting an audit whose outcome is a pass issues a certificate in the same transaction;
it supersedes the earlier certificates of the same facility of the registry (server/facilities.py).
An admin can revoke one.

Every version of a certificate document is signed (Ed25519 over its canonical JSON, with
the server's ledger key) and published as an entry of the repository log: the document
carries its status, so a status change (superseded, revoked) is a new signed version
and a new entry, never a silent edit (docs/ledger.md, "Certificates").
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from recorder import merkle
from recorder.certificate import FORMAT, sign_document, state_of
from recorder.ledger import canonical_json, utc_ms
from server.context import AppContext
from server.db import certificate_repo, org_repo, repo, repository_repo
from server.db.models import Audit, Certificate, Review, new_id
from server.errors import ApiError
from server.policy import Actor
from server.repository_log import Batch, repository_head_json
from server.settings import Settings

DECISIONS = ("accept", "return")


@dataclass(frozen=True)
class CertificateRule:
    """How long a certificate is valid: long for a high score with no open corrective action."""

    long_years: int
    short_years: int
    long_score: Fraction

    @classmethod
    def from_settings(cls, settings: Settings) -> CertificateRule:
        score = Fraction(Decimal(str(settings.certificate_long_score)))
        return cls(settings.certificate_long_years, settings.certificate_short_years, score)

    def years(self, score: Fraction, open_actions: int) -> int:
        return self.long_years if score >= self.long_score and open_actions == 0 else self.short_years

    def words(self, score: Fraction, open_actions: int) -> str:
        """The rule, and how it applied to this audit, in one sentence a facility can read."""
        threshold = _percent(self.long_score)
        actions = (
            "no corrective action open" if not open_actions else f"{open_actions} corrective action(s) open"
        )
        return (
            f"Valid {_years(self.long_years)} from issue when the audit score is at least {threshold} "
            f"and every corrective action is closed, otherwise {_years(self.short_years)}. "
            f"This audit: score {_percent(score)}, {actions}: {_years(self.years(score, open_actions))}."
        )


def _years(n: int) -> str:
    return f"{n} year" if n == 1 else f"{n} years"


def _percent(value: Fraction) -> str:
    return f"{(Decimal(value.numerator) / Decimal(value.denominator) * 100).quantize(Decimal('0.1'))} %"


def score_of(outcome: dict[str, Any]) -> Fraction:
    """The outcome's score as an exact fraction: meets over applicable checkpoints."""
    counts = outcome.get("counts")
    if isinstance(counts, dict) and counts:
        applicable = sum(int(n) for k, n in counts.items() if k != "not_applicable")
        if applicable:
            return Fraction(int(counts.get("meets", 0)), applicable)
    score = outcome.get("score")
    return Fraction(Decimal(str(score))) if score is not None else Fraction(0)


def score_text(score: Fraction) -> str:
    """Four decimals as a string: canonical JSON has no floats."""
    return str((Decimal(score.numerator) / Decimal(score.denominator)).quantize(Decimal("0.0001")))


def add_years(when: dt.datetime, years: int) -> dt.datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


def facility_key(audit: Audit) -> str:
    """What supersedes: the audit's facility in the registry (name and country for a stray audit)."""
    if audit.facility_id is not None:
        return audit.facility_id
    return f"{' '.join(audit.facility_name.split()).casefold()}\n{audit.facility_country.strip().casefold()}"


def document_of(cert: Certificate) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(cert.document)
    return doc


def live_state(cert: Certificate, now: dt.datetime | None = None) -> str:
    return state_of(document_of(cert), now or dt.datetime.now(dt.UTC))


def _publish(app: AppContext, batch: Batch, cert: Certificate, doc: dict[str, Any], event: str) -> None:
    """Sign this version of the document, keep it on the row and add it to the repository log."""
    cert.document = canonical_json(doc).decode("utf-8")
    cert.signature = sign_document(app.signer.key, doc)
    cert.key_id = app.signer.key_id
    cert.status = str(doc["status"])
    cert.repository_seq = batch.add({"type": "certificate", "event": event, "certificate": doc})


async def _issue(
    app: AppContext, s: AsyncSession, batch: Batch, audit: Audit, extends: Certificate | None = None
) -> Certificate:
    """Issue the audit's certificate; ``extends`` is the certificate of the same audit it
    replaces when its validity is re-evaluated (:func:`reevaluate`): the new one's validity
    counts from that one's issue, not from now."""
    assert audit.outcome is not None
    rule = CertificateRule.from_settings(app.settings)
    score = score_of(audit.outcome)
    open_actions = await certificate_repo.open_corrective_actions(s, audit.id)
    years = rule.years(score, open_actions)
    now = dt.datetime.now(dt.UTC)
    issued = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as the document writes it
    valid_from = extends.issued_at if extends is not None else issued
    firm = await org_repo.get_org(s, audit.firm_id)
    cert_id = new_id()
    doc = {
        "format": FORMAT,
        "id": cert_id,
        "audit": audit.id,
        "facility": {
            "id": audit.facility_id,
            "name": audit.facility_name,
            "country": audit.facility_country,
            "address": audit.facility_address,
        },
        "firm": {"id": audit.firm_id, "name": firm.name if firm else None},
        "score": score_text(score),
        "issued": utc_ms(issued),
        "expires": utc_ms(add_years(valid_from, years)),
        "validity_years": years,
        "rule": rule.words(score, open_actions),
        "status": "issued",
        "revocation": None,
        "superseded_by": None,
    }
    if extends is not None:
        doc["extends"] = {
            "certificate": extends.id,
            "valid_from": utc_ms(valid_from),
            "reason": "every corrective action of the audit was accepted",
        }
    earlier = await certificate_repo.in_force_for_facility(s, facility_key(audit))
    cert = Certificate(
        id=cert_id,
        audit_id=audit.id,
        facility_key=facility_key(audit),
        issued_at=issued,
        expires_at=add_years(valid_from, years),
    )
    _publish(app, batch, cert, doc, "issued")
    s.add(cert)
    for old in earlier:
        replaced = document_of(old) | {
            "status": "superseded",
            "superseded_by": {"certificate": cert_id, "at": utc_ms(issued)},
        }
        _publish(app, batch, old, replaced, "superseded")
    audit.certificate_id = cert_id
    return cert


async def review(
    app: AppContext, audit_id: str, actor: Actor, decision: str, comment: str | None
) -> tuple[Review, Certificate | None]:
    """Record a review decision; accepting a passed audit issues its certificate."""

    async def work(s: AsyncSession, batch: Batch) -> tuple[Review, Certificate | None]:
        audit = await repo.get_audit(s, audit_id)
        assert audit is not None
        if audit.status != "completed":
            raise ApiError(409, "not_completed", "only a completed audit can be reviewed")
        if await certificate_repo.accepted(s, audit_id):
            raise ApiError(409, "already_accepted", "this audit was already accepted")
        row = Review(
            id=new_id(),
            audit_id=audit_id,
            reviewer_id=actor.user_id,
            reviewer_name=actor.name,
            decision=decision,
            comment=comment,
        )
        row.repository_seq = batch.add(
            {
                "type": "review",
                "audit": audit_id,
                "review": row.id,
                "decision": decision,
                "comment": comment,
                "reviewer": actor.label(),
            }
        )
        s.add(row)
        passed = bool(audit.outcome and audit.outcome.get("result") == "pass")
        cert = await _issue(app, s, batch, audit) if decision == "accept" and passed else None
        return row, cert

    return await app.repository.record(work)


async def reevaluate(app: AppContext, audit_id: str) -> Certificate | None:
    """The audit's last corrective action was accepted: if its certificate in force now
    qualifies for a longer validity under the rule, issue one that supersedes it, valid from
    the same day as the one it replaces (a new signed document, published like any other).
    Returns the new certificate, or None when nothing changes (no certificate yet: the review
    that issues it will count the open actions itself)."""

    async def work(s: AsyncSession, batch: Batch) -> Certificate | None:
        audit = await repo.get_audit(s, audit_id)
        if audit is None or audit.outcome is None or audit.certificate_id is None:
            return None
        current = await certificate_repo.get(s, audit.certificate_id)
        if current is None or current.status != "issued" or current.audit_id != audit_id:
            return None
        rule = CertificateRule.from_settings(app.settings)
        open_actions = await certificate_repo.open_corrective_actions(s, audit_id)
        years = rule.years(score_of(audit.outcome), open_actions)
        if years <= int(document_of(current).get("validity_years") or 0):
            return None
        return await _issue(app, s, batch, audit, extends=current)

    return await app.repository.record(work)


async def revoke(app: AppContext, certificate_id: str, reason: str) -> Certificate:
    """Revoke a certificate: a new signed version with status ``revoked`` and the reason."""

    async def work(s: AsyncSession, batch: Batch) -> Certificate:
        cert = await certificate_repo.get(s, certificate_id)
        if cert is None:
            raise ApiError(404, "not_found", f"no certificate {certificate_id!r}")
        if cert.status == "revoked":
            raise ApiError(409, "already_revoked", "this certificate is already revoked")
        now = utc_ms(dt.datetime.now(dt.UTC))
        _publish(
            app,
            batch,
            cert,
            document_of(cert) | {"status": "revoked", "revocation": {"at": now, "reason": reason}},
            "revoked",
        )
        return cert

    return await app.repository.record(work)


async def certificate_file(app: AppContext, cert: Certificate) -> dict[str, Any]:
    """The downloadable certificate: document, signature, key, and its inclusion in the repository log."""
    head = await app.repository.head()
    if head.size <= cert.repository_seq:  # read between the entry's commit and its head
        head = await app.repository.sign()
    async with app.db.session() as s:
        leaves = await repository_repo.leaf_hashes(s)
        entry = await repository_repo.entry(s, cert.repository_seq)
        witnesses = await repository_repo.witnesses_covering(
            s, cert.repository_seq, app.settings.trusted_witnesses
        )
    assert entry is not None
    proof = merkle.inclusion_proof(cert.repository_seq, leaves[: head.size])
    return {
        "certificate": document_of(cert),
        "state": live_state(cert),
        "key_id": cert.key_id,
        "signature": cert.signature,
        "public_key": app.signer.public_pem.decode("ascii"),
        "inclusion": {
            "seq": cert.repository_seq,
            "entry": json.loads(entry.body),
            "proof": [p.hex() for p in proof],
            "tree_head": repository_head_json(head),
        },
        "witnesses": witnesses,
    }
