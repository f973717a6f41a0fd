"""SQLAlchemy models. ``transcription_job`` keeps the seed system's columns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from audiotext.jobs.states import JobStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_job_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every database (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: sa.JSON, datetime: UTCDateTime}


job_status_enum = sa.Enum(
    JobStatus,
    name="job_status",
    values_callable=lambda statuses: [s.value for s in statuses],
    validate_strings=True,
)


class TranscriptionJobRow(Base):
    __tablename__ = "transcription_job"
    __table_args__ = (
        sa.Index("ix_transcription_job_status_creation", "status", "creation_date"),
        sa.Index("ix_transcription_job_owner_creation", "owner", "creation_date"),
    )

    # The seed's columns.
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_job_id)
    filename: Mapped[str] = mapped_column(sa.String(255))
    url: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[JobStatus] = mapped_column(job_status_enum, default=JobStatus.PENDING)
    result_text: Mapped[str | None] = mapped_column(sa.Text)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    processing_time_seconds: Mapped[float | None] = mapped_column(sa.Float)
    description: Mapped[str | None] = mapped_column(sa.Text)
    creation_date: Mapped[datetime] = mapped_column(default=utcnow)
    update_date: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # What the product adds.
    model: Mapped[str] = mapped_column(sa.String(255))
    engine: Mapped[str] = mapped_column(sa.String(32))
    language: Mapped[str | None] = mapped_column(sa.String(16))
    task: Mapped[str] = mapped_column(sa.String(16), default="transcribe")
    progress: Mapped[int] = mapped_column(sa.Integer, default=0)
    audio_duration_seconds: Mapped[float | None] = mapped_column(sa.Float)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner: Mapped[str | None] = mapped_column(sa.String(64))
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    callback_url: Mapped[str | None] = mapped_column(sa.Text)
    callback_attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    callback_status: Mapped[str | None] = mapped_column(sa.String(255))
    speakers: Mapped[int | None] = mapped_column(sa.Integer)  # found by diarization
    # [{language, seconds, probability}], detected over the whole file (most spoken first)
    languages: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    shards: Mapped[dict[str, int] | None] = mapped_column(sa.JSON)
    queued: Mapped[str | None] = mapped_column(sa.Text)  # Kueue's reason while it holds it back


class ApiKeyRow(Base):
    """An API key; only a hash of the secret is stored."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_job_id)
    name: Mapped[str] = mapped_column(sa.String(255))
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True, index=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    # The Kueue LocalQueue of the jobs made with this key (a tenant's); None: the default.
    queue: Mapped[str | None] = mapped_column(sa.String(63))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
