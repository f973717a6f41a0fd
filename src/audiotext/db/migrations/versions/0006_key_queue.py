"""api_key.queue: the Kueue LocalQueue of a tenant's jobs; transcription_job.queued: why
Kueue holds a job back

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("queue", sa.String(63), nullable=True))
    with op.batch_alter_table("transcription_job") as batch:
        batch.add_column(sa.Column("queued", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcription_job") as batch:
        batch.drop_column("queued")
    with op.batch_alter_table("api_key") as batch:
        batch.drop_column("queue")
