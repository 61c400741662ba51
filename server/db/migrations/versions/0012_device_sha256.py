"""photos: the SHA-256 the phone computed over the bytes it uploaded

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("evidence", sa.Column("device_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("evidence", "device_sha256")
