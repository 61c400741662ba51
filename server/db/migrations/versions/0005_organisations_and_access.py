"""organisations, roles, audit ownership, shares, assignments, access log, login throttling

Existing users and audits move into one audit firm, "Default audit firm"; a fresh data dir
starts with that firm too. API tokens that never expired get 30 days from the upgrade.

Revision ID: 0005
Revises: 0004
"""

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DEFAULT_FIRM = "Default audit firm"


def add_reference(table: str, column: str, target: str) -> None:
    """Add a nullable id column that references ``target``; in place, even on SQLite."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(36) REFERENCES {target} (id)"))
    else:
        op.add_column(table, sa.Column(column, sa.String(36), sa.ForeignKey(f"{target}.id"), nullable=True))


def upgrade() -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    firm_id = str(uuid.uuid4())
    orgs = sa.table(
        "organisations",
        sa.column("id", sa.String),
        sa.column("kind", sa.String),
        sa.column("name", sa.String),
        sa.column("created_at", sa.DateTime),
    )
    op.bulk_insert(orgs, [{"id": firm_id, "kind": "audit-firm", "name": DEFAULT_FIRM, "created_at": now}])

    # Columns are added in place (no table rebuild: SQLite would refuse to drop a table that
    # other rows point at). SQLite keeps them nullable; the application always sets them, and
    # other databases get NOT NULL below.
    add_reference("users", "org_id", "organisations")
    op.execute(sa.text("UPDATE users SET org_id = :f, role = 'auditor'").bindparams(f=firm_id))
    add_reference("audits", "firm_id", "organisations")
    add_reference("audits", "lead_auditor_id", "users")
    op.execute(sa.text("UPDATE audits SET firm_id = :f, lead_auditor_id = created_by").bindparams(f=firm_id))
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("users", "org_id", existing_type=sa.String(36), nullable=False)
        op.alter_column("audits", "firm_id", existing_type=sa.String(36), nullable=False)
        op.alter_column("audits", "lead_auditor_id", existing_type=sa.String(36), nullable=False)
    op.create_index("ix_audits_firm", "audits", ["firm_id", "created_at"])

    op.execute(
        sa.text("UPDATE credentials SET expires_at = :e WHERE expires_at IS NULL").bindparams(
            e=now + dt.timedelta(days=30)
        )
    )

    op.create_table(
        "audit_assignments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("audit_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["audit_id"], ["audits.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("audit_id", "user_id", name="uq_assignment"),
    )
    op.create_table(
        "audit_shares",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("audit_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["audit_id"], ["audits.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("audit_id", "org_id", name="uq_share"),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("audit_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("user_email", sa.String(length=320), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("org_name", sa.String(length=300), nullable=False),
        sa.Column("org_kind", sa.String(length=20), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["audit_id"], ["audits.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_audit", "access_log", ["audit_id", "id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_email", "login_failures", ["email", "at"])
    op.create_index("ix_login_failures_addr", "login_failures", ["address", "at"])


def downgrade() -> None:
    op.drop_table("login_failures")
    op.drop_table("access_log")
    op.drop_table("audit_shares")
    op.drop_table("audit_assignments")
    op.drop_index("ix_audits_firm", "audits")
    with op.batch_alter_table("audits") as batch:
        batch.drop_column("lead_auditor_id")
        batch.drop_column("firm_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("org_id")
    op.drop_table("organisations")
