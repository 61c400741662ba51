"""Tables. Times are stored as UTC; ids are UUID strings so rows can move between databases."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the backend keeps."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    """The association, an audit firm, a member importer or the customs agency."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))  # association | audit-firm | member | agency
    name: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="auditor")
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Credential(Base):
    """A login session or an API token: only the SHA-256 of the secret is kept."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # "session" | "api"
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Facility(Base):
    """A site that is audited: the stable identifier members and the agency look it up by."""

    __tablename__ = "facilities"
    __table_args__ = (
        Index("ix_facilities_key", "facility_key"),
        Index("ix_facilities_country", "country", "name"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(300))  # the legal name
    country: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)  # e.g. a supplier number
    facility_key: Mapped[str] = mapped_column(String(420))  # name and country, folded: what reuses one
    created_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FacilityLink(Base):
    """A member organisation names a facility as one of its suppliers."""

    __tablename__ = "facility_links"
    __table_args__ = (UniqueConstraint("facility_id", "org_id", name="uq_facility_link"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    facility_id: Mapped[str] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Audit(Base):
    __tablename__ = "audits"
    __table_args__ = (Index("ix_audits_firm", "firm_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    facility_name: Mapped[str] = mapped_column(String(300))
    facility_country: Mapped[str] = mapped_column(String(100))
    facility_address: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    firm_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    lead_auditor_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    template_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    template_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    current_checkpoint: Mapped[str | None] = mapped_column(String(100), nullable=True)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    certificate_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # the newest one issued
    facility_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


class Invite(Base):
    """A staff invite: scoped to one audit, expiring, revocable; the token itself is never stored."""

    __tablename__ = "invites"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditEvent(Base):
    """Who did what in an audit (join, leave, ...), in arrival order."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_audit", "audit_id", "seq"),)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(300))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Evidence(Base):
    """A still, capture or photo: the JPEG lives in the blob store, its facts here."""

    __tablename__ = "evidence"
    __table_args__ = (
        UniqueConstraint("audit_id", "seq", name="uq_evidence_audit_seq"),
        Index("ix_evidence_audit_kind", "audit_id", "kind", "seq"),
        Index("uq_evidence_audit_idempotency_key", "audit_id", "idempotency_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # "still" | "capture" | "photo"
    captured_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # server clock, frame arrival
    arrival_ns: Mapped[int] = mapped_column(BigInteger)
    media_time: Mapped[float | None] = mapped_column(Float, nullable=True)  # seconds on the phone's clock
    rtp_timestamp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    sharpness: Mapped[float] = mapped_column(Float)
    checkpoint: Mapped[str | None] = mapped_column(String(100), nullable=True)
    requested_by: Mapped[str | None] = mapped_column(String(300), nullable=True)
    segment_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A photo's SHA-256 as the phone computed it before uploading; checked equal to ``sha256``.
    device_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    blob: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The requester's key for this item ("<requester> <key>"): a retry with it gets this row.
    idempotency_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The facility camera a still or capture was taken from (1, 2, ...); for a photo the number the
    # server gave the phone that took it, as the phone sent it (null when it did not).
    camera: Mapped[int | None] = mapped_column(Integer, nullable=True, default=1, server_default="1")


class Segment(Base):
    """A closed segment of the lossless recording and its per-frame index.

    A segment still open when the server stopped uncleanly is recovered at the next start:
    ``recovered_at`` is set, and ``lost_*_frames`` count the frames its index lists after
    what could be kept; ``stopped_ns`` is the arrival time of the last frame it lists.
    """

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("audit_id", "seq", name="uq_segments_audit_seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(20))
    start_ns: Mapped[int] = mapped_column(BigInteger)
    end_ns: Mapped[int] = mapped_column(BigInteger)
    video_frames: Mapped[int] = mapped_column(Integer)
    audio_frames: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    index_sha256: Mapped[str] = mapped_column(String(64))
    blob: Mapped[str] = mapped_column(String(500))
    index_blob: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recovered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    stopped_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lost_video_frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lost_audio_frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    camera: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # whose segment stream


class CustomTemplate(Base):
    """A checkpoint template uploaded by an auditor (the built-in ones ship as package data)."""

    __tablename__ = "custom_templates"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_custom_templates_key_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CheckpointResult(Base):
    """The auditor's finding on one checkpoint of one audit."""

    __tablename__ = "checkpoint_results"
    __table_args__ = (UniqueConstraint("audit_id", "checkpoint_key", name="uq_results_audit_checkpoint"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    checkpoint_key: Mapped[str] = mapped_column(String(100))
    result: Mapped[str] = mapped_column(String(20))  # meets | does_not_meet | not_applicable | follow_up
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    corrective_action: Mapped[str | None] = mapped_column(Text, nullable=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    verified_by: Mapped[str | None] = mapped_column(String(20), nullable=True)  # live | photo
    updated_by: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Consent(Base):
    """A participant accepted the recording notice (ISO 19011: permission before recording)."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_audit_actor_device", "audit_id", "actor", "device_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    notice_sha256: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the staff page's, if sent
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)  # of the notice shown
    accepted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class PhoneQueue(Base):
    """What a phone last reported of its photo queue: photos taken there, not yet uploaded.

    One row per phone of an audit (its invite and device), replaced by each report. Completing
    the audit while a phone reports photos needs a written reason (server/completion.py)."""

    __tablename__ = "phone_queues"

    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(300), primary_key=True)  # the participant's key
    name: Mapped[str] = mapped_column(String(200))  # the invite's label, as the console shows it
    count: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    oldest_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The device SHA-256 of each photo reported, when the phone sent them (null: it did not):
    # a photo that arrived since is counted off without another report.
    pending: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class TechCheck(Base):
    """A pre-audit check of the staff's phone and connection, run from the invite link."""

    __tablename__ = "tech_checks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    invite_id: Mapped[str] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"))
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Annotation(Base):
    """Drawings on a still, kept as a separate layer: the still's bytes never change."""

    __tablename__ = "annotations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"))
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    shapes: Mapped[list[Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(Base):
    """One entry of an audit's append-only evidence ledger (canonical JSON, RFC 9162 leaf)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("audit_id", "seq", name="uq_ledger_audit_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TreeHeadRow(Base):
    """A signed tree head: the server's Ed25519 signature over (audit, size, root, time)."""

    __tablename__ = "tree_heads"
    __table_args__ = (Index("ix_tree_heads_audit", "audit_id", "size"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    size: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(String(64))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(64))


class Assignment(Base):
    """An auditor of the audit's firm assigned to run it beside the lead auditor."""

    __tablename__ = "audit_assignments"
    __table_args__ = (UniqueConstraint("audit_id", "user_id", name="uq_assignment"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Share(Base):
    """A completed audit shared, confidentially, with one member organisation."""

    __tablename__ = "audit_shares"
    __table_args__ = (UniqueConstraint("audit_id", "org_id", name="uq_share"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AccessRecord(Base):
    """Who read an audit's evidence, or shared it: kept for the audit's firm and admins."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_audit", "audit_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(36))
    user_name: Mapped[str] = mapped_column(String(200))
    user_email: Mapped[str] = mapped_column(String(320))
    org_id: Mapped[str] = mapped_column(String(36))
    org_name: Mapped[str] = mapped_column(String(300))
    org_kind: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(100), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoginFailure(Base):
    """A failed sign-in, kept 15 minutes for throttling (email and client address)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email", "email", "at"),
        Index("ix_login_failures_addr", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Review(Base):
    """A reviewer's decision on a completed audit: accept it, or return it to the auditor."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_audit", "audit_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    reviewer_id: Mapped[str] = mapped_column(String(36))
    reviewer_name: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(20))  # accept | return
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    repository_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Certificate(Base):
    """A certificate issued for an accepted audit; ``document`` is the signed canonical JSON."""

    __tablename__ = "certificates"
    __table_args__ = (Index("ix_certificates_facility", "facility_key", "issued_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id"))
    facility_key: Mapped[str] = mapped_column(String(420))  # the facility's id (0010): what supersedes
    status: Mapped[str] = mapped_column(String(20), default="issued")  # issued | revoked | superseded
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    document: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(64))
    repository_seq: Mapped[int] = mapped_column(Integer)  # the entry of the document's current version


class RepositoryEntry(Base):
    """One entry of the repository-wide append-only log (canonical JSON, RFC 9162 leaf)."""

    __tablename__ = "repository_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    type: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RepositoryHead(Base):
    """A signed tree head of the repository log."""

    __tablename__ = "repository_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(Integer, index=True)
    root: Mapped[str] = mapped_column(String(64))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(64))


class Cosignature(Base):
    """A witness's signature over a repository head it checked was consistent with what it saw."""

    __tablename__ = "repository_cosignatures"
    __table_args__ = (UniqueConstraint("size", "witness_key_id", name="uq_cosignature"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(String(64))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    witness_key_id: Mapped[str] = mapped_column(String(64))
    witness_public_key: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CorrectiveAction(Base):
    """A finding of a completed audit the facility must correct: made at completion, one per
    must/should checkpoint found not to meet its criteria (server/capa.py)."""

    __tablename__ = "corrective_actions"
    __table_args__ = (UniqueConstraint("audit_id", "checkpoint_key", name="uq_corrective_action_checkpoint"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    checkpoint_key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(20))  # must | should
    description: Mapped[str] = mapped_column(Text)
    due_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | responded | accepted | rejected
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CorrectiveActionEntry(Base):
    """A facility's response to a corrective action (text, maybe a photo) or the firm's decision on it."""

    __tablename__ = "corrective_action_entries"
    __table_args__ = (Index("ix_corrective_action_entries_action", "action_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    action_id: Mapped[str] = mapped_column(ForeignKey("corrective_actions.id", ondelete="CASCADE"))
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # response | decision
    text: Mapped[str] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(20), nullable=True)  # accept | reject
    actor: Mapped[str] = mapped_column(String(300))  # user:<id> | capa-link:<id>
    actor_name: Mapped[str] = mapped_column(String(200))
    blob: Mapped[str | None] = mapped_column(String(500), nullable=True)  # the response's photo
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    video_blob: Mapped[str | None] = mapped_column(String(500), nullable=True)  # a short video
    video_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    video_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    video_duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    video_codec: Mapped[str | None] = mapped_column(String(20), nullable=True)
    ledger_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def file(self, video: bool) -> tuple[str | None, str | None]:
        """The (blob, SHA-256) of the response's video, or of its photo."""
        return (self.video_blob, self.video_sha256) if video else (self.blob, self.sha256)


class CapaLink(Base):
    """The facility's long-lived, revocable link to answer an audit's corrective actions.

    Not an ``Invite``: a staff invite joins the live audit, this link only answers actions;
    keeping them apart means neither token can ever pass for the other."""

    __tablename__ = "capa_links"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
