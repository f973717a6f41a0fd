"""transcription_job.speakers: how many speakers diarization found

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcription_job") as batch:
        batch.add_column(sa.Column("speakers", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcription_job") as batch:
        batch.drop_column("speakers")
