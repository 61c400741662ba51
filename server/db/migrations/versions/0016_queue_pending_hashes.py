"""phone_queues.pending: the device SHA-256s of the photos a phone last reported waiting

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("phone_queues", sa.Column("pending", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("phone_queues", "pending")
