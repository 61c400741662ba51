"""corrective actions: a short video with a facility's response

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

COLUMNS = (
    ("video_blob", sa.String(length=500)),
    ("video_sha256", sa.String(length=64)),
    ("video_size", sa.Integer()),
    ("video_duration_ms", sa.Integer()),
    ("video_codec", sa.String(length=20)),
)


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column("corrective_action_entries", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column("corrective_action_entries", name)
