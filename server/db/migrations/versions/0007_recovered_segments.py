"""recovered segments, idempotent evidence

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recovered_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("stopped_ns", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("lost_video_frames", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lost_audio_frames", sa.Integer(), nullable=True))
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=300), nullable=True))
        batch_op.create_index(
            "uq_evidence_audit_idempotency_key", ["audit_id", "idempotency_key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index("uq_evidence_audit_idempotency_key")
        batch_op.drop_column("idempotency_key")
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_column("lost_audio_frames")
        batch_op.drop_column("lost_video_frames")
        batch_op.drop_column("stopped_ns")
        batch_op.drop_column("recovered_at")
