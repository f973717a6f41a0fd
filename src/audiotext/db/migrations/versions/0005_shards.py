"""transcription_job.shards: how far the shards of a sharded job are

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcription_job") as batch:
        batch.add_column(sa.Column("shards", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcription_job") as batch:
        batch.drop_column("shards")
