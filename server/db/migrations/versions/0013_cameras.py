"""cameras: which facility camera recorded a segment, still or capture

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: every existing row was recorded by the audit's only camera, number 1.
    op.add_column("segments", sa.Column("camera", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("evidence", sa.Column("camera", sa.Integer(), nullable=True, server_default="1"))


def downgrade() -> None:
    op.drop_column("evidence", "camera")
    op.drop_column("segments", "camera")
