"""facilities: a registry of audited sites, audits pointing at one, members' supplier links

Existing audits get one facility per distinct name and country (folded), and certificates
supersede by facility id from now on: their ``facility_key`` becomes the facility's id.

Revision ID: 0010
Revises: 0009
"""

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def folded(name: str, country: str) -> str:
    """The same rule as server.facilities.facility_key (kept here: migrations do not import the app)."""
    return f"{' '.join(name.split()).casefold()}\n{country.strip().casefold()}"


def upgrade() -> None:
    op.create_table(
        "facilities",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("country", sa.String(length=100), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("facility_key", sa.String(length=420), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_facilities_key", "facilities", ["facility_key"])
    op.create_index("ix_facilities_country", "facilities", ["country", "name"])
    op.create_table(
        "facility_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("facility_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("facility_id", "org_id", name="uq_facility_link"),
    )
    op.add_column("audits", sa.Column("facility_id", sa.String(length=36), nullable=True))
    op.create_index("ix_audits_facility_id", "audits", ["facility_id"])
    migrate_audits(op.get_bind())


def migrate_audits(conn: sa.Connection) -> None:
    """One facility per distinct name and country; audits and certificates point at it."""
    audits = conn.execute(
        sa.text(
            "SELECT id, facility_name, facility_country, facility_address, created_by, created_at "
            "FROM audits ORDER BY created_at"
        )
    ).all()
    ids: dict[str, str] = {}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for audit_id, name, country, address, created_by, created_at in audits:
        key = folded(name, country)
        if key not in ids:
            ids[key] = str(uuid.uuid4())
            conn.execute(
                sa.text(
                    "INSERT INTO facilities"
                    " (id, name, country, address, facility_key, created_by, created_at) "
                    "VALUES (:id, :name, :country, :address, :key, :by, :at)"
                ),
                {
                    "id": ids[key],
                    "name": " ".join(name.split()),
                    "country": country.strip(),
                    "address": address,
                    "key": key,
                    "by": created_by,
                    "at": created_at or now,
                },
            )
        conn.execute(
            sa.text("UPDATE audits SET facility_id = :f WHERE id = :a"), {"f": ids[key], "a": audit_id}
        )
        conn.execute(
            sa.text("UPDATE certificates SET facility_key = :f WHERE facility_key = :k"),
            {"f": ids[key], "k": key},
        )


def downgrade() -> None:
    op.drop_index("ix_audits_facility_id", table_name="audits")
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.drop_column("facility_id")
    op.drop_table("facility_links")
    op.drop_index("ix_facilities_country", table_name="facilities")
    op.drop_index("ix_facilities_key", table_name="facilities")
    op.drop_table("facilities")
