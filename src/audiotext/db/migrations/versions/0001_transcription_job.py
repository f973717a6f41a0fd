"""transcription_job table with the job_status enum

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

STATUSES = ("pending", "processing", "completed", "failed", "cancelled")


def upgrade() -> None:
    job_status = sa.Enum(*STATUSES, name="job_status")
    op.create_table(
        "transcription_job",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", job_status, nullable=False, server_default="pending"),
        sa.Column("result_text", sa.Text()),
        sa.Column("error_message", sa.Text()),
        sa.Column("processing_time_seconds", sa.Float()),
        sa.Column("description", sa.Text()),
        sa.Column("creation_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("task", sa.String(16), nullable=False, server_default="transcribe"),
        sa.Column("progress", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("audio_duration_seconds", sa.Float()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(64)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.Column("callback_url", sa.Text()),
        sa.Column("callback_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("callback_status", sa.String(255)),
    )
    op.create_index(
        "ix_transcription_job_status_creation", "transcription_job", ["status", "creation_date"]
    )
    op.create_index(
        "ix_transcription_job_owner_creation", "transcription_job", ["owner", "creation_date"]
    )


def downgrade() -> None:
    op.drop_index("ix_transcription_job_owner_creation", table_name="transcription_job")
    op.drop_index("ix_transcription_job_status_creation", table_name="transcription_job")
    op.drop_table("transcription_job")
    sa.Enum(name="job_status").drop(op.get_bind(), checkfirst=True)
