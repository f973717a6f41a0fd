"""JobRepository: every query on ``transcription_job``; state changes are guarded in SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from audiotext.db.models import TranscriptionJobRow, utcnow
from audiotext.db.session import Database
from audiotext.jobs.errors import InvalidTransition, JobNotFound
from audiotext.jobs.states import ALLOWED_TRANSITIONS, UNFINISHED_STATES, JobStatus

_JOBS = TranscriptionJobRow.__table__
# Built once: a statement object keeps its cache key and its compiled form between reads.
_SELECT_JOB = sa.select(_JOBS).where(_JOBS.c.id == sa.bindparam("job_id"))
_PROGRESS_COLUMNS = tuple(
    _JOBS.c[name] for name in ("id", "status", "progress", "language", "audio_duration_seconds")
)


class JobRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, row: TranscriptionJobRow) -> TranscriptionJobRow:
        async with self.db.session() as session:
            session.add(row)
            await session.commit()
        return row

    async def get(self, job_id: str, *, owner: str | None = None) -> TranscriptionJobRow:
        async with self.db.session() as session:
            row = await session.get(TranscriptionJobRow, job_id)
        if row is None or (owner is not None and row.owner != owner):
            raise JobNotFound(job_id)
        return row

    async def get_fields(self, job_id: str, *, owner: str | None = None) -> dict[str, Any]:
        """One job's columns as a mapping: the read behind status requests (no ORM session)."""
        fields = await self.db.fetch_one(_SELECT_JOB, {"job_id": job_id})
        if fields is None or (owner is not None and fields["owner"] != owner):
            raise JobNotFound(job_id)
        return fields

    async def find(self, job_id: str) -> TranscriptionJobRow | None:
        async with self.db.session() as session:
            return await session.get(TranscriptionJobRow, job_id)

    async def list(
        self,
        *,
        status: JobStatus | None = None,
        owner: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[Sequence[TranscriptionJobRow], int]:
        filters: list[sa.ColumnElement[bool]] = []
        if status is not None:
            filters.append(TranscriptionJobRow.status == status)
        if owner is not None:
            filters.append(TranscriptionJobRow.owner == owner)
        query = (
            sa.select(TranscriptionJobRow)
            .where(*filters)
            .order_by(TranscriptionJobRow.creation_date.desc(), TranscriptionJobRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        count = sa.select(sa.func.count()).select_from(TranscriptionJobRow).where(*filters)
        async with self.db.session() as session:
            rows = (await session.scalars(query)).all()
            total = (await session.execute(count)).scalar_one()
        return rows, int(total)

    async def progress_of(self, job_ids: Sequence[str]) -> Sequence[sa.Row[Any]]:
        """Progress columns of those of these jobs that have not ended (missing ones left
        out), a bounded IN list at a time: plain rows, no ORM objects (the operator reads
        every running job's row each round)."""
        found: list[sa.Row[Any]] = []
        async with self.db.session() as session:
            for start in range(0, len(job_ids), 500):
                chunk = job_ids[start : start + 500]
                query = sa.select(*_PROGRESS_COLUMNS).where(
                    _JOBS.c.id.in_(chunk), _JOBS.c.status.in_(UNFINISHED_STATES)
                )
                found.extend((await session.execute(query)).all())
        return found

    async def with_status(self, *statuses: JobStatus) -> Sequence[TranscriptionJobRow]:
        query = (
            sa.select(TranscriptionJobRow)
            .where(TranscriptionJobRow.status.in_(statuses))
            .order_by(TranscriptionJobRow.creation_date)
        )
        async with self.db.session() as session:
            return (await session.scalars(query)).all()

    async def transition(
        self,
        job_id: str,
        status: JobStatus,
        *,
        only_from: Sequence[JobStatus] | None = None,
        **fields: Any,
    ) -> TranscriptionJobRow:
        """Move a job to ``status`` and set ``fields`` in one guarded UPDATE.

        The WHERE clause admits only states from which the move is allowed, so two writers
        (a cancel and a finishing worker, say) can never both win.
        """
        sources = {s for s, targets in ALLOWED_TRANSITIONS.items() if status in targets}
        sources.add(status)
        if only_from is not None:
            sources &= set(only_from)
        values = {"status": status, "update_date": utcnow(), **fields}
        statement = (
            sa.update(TranscriptionJobRow)
            .where(TranscriptionJobRow.id == job_id, TranscriptionJobRow.status.in_(sources))
            .values(**values)
        )
        async with self.db.session() as session:
            result = await session.execute(statement)
            await session.commit()
            row = await session.get(TranscriptionJobRow, job_id, populate_existing=True)
        if row is None:
            raise JobNotFound(job_id)
        if getattr(result, "rowcount", 0) == 0:
            raise InvalidTransition(f"a {row.status.value} job cannot become {status.value}")
        return row

    async def raise_progress(self, job_id: str, progress: int) -> TranscriptionJobRow | None:
        """A running job's progress set to ``progress`` where that raises it (one guarded
        UPDATE: writers that race cannot lower it); None where it did not."""
        statement = (
            sa.update(TranscriptionJobRow)
            .where(
                TranscriptionJobRow.id == job_id,
                TranscriptionJobRow.status == JobStatus.PROCESSING,
                TranscriptionJobRow.progress < progress,
            )
            .values(progress=progress, heartbeat_at=utcnow(), update_date=utcnow())
        )
        async with self.db.session() as session:
            result = await session.execute(statement)
            await session.commit()
            if getattr(result, "rowcount", 0) == 0:
                return None
            return await session.get(TranscriptionJobRow, job_id, populate_existing=True)

    async def update_fields(self, job_id: str, **fields: Any) -> None:
        """Set bookkeeping fields that do not change the state (webhook delivery, heartbeats)."""
        statement = (
            sa.update(TranscriptionJobRow).where(TranscriptionJobRow.id == job_id).values(**fields)
        )
        async with self.db.session() as session:
            await session.execute(statement)
            await session.commit()

    async def delete(self, job_id: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                sa.delete(TranscriptionJobRow).where(TranscriptionJobRow.id == job_id)
            )
            await session.commit()

    async def count_active(self, owner: str) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(TranscriptionJobRow)
            .where(
                TranscriptionJobRow.owner == owner,
                TranscriptionJobRow.status.in_(UNFINISHED_STATES),
            )
        )
        async with self.db.session() as session:
            return int((await session.execute(query)).scalar_one())

    async def count_by_status(self, statuses: Iterable[JobStatus]) -> dict[JobStatus, int]:
        """How many jobs are in each of ``statuses`` (each one listed, zero when none is)."""
        wanted = tuple(statuses)
        query = (
            sa.select(_JOBS.c.status, sa.func.count())
            .where(_JOBS.c.status.in_(wanted))
            .group_by(_JOBS.c.status)
        )
        async with self.db.session() as session:
            counted = {status: count for status, count in (await session.execute(query)).all()}
        return {status: int(counted.get(status, 0)) for status in wanted}

    async def stale_running(self, older_than: datetime) -> Sequence[TranscriptionJobRow]:
        query = sa.select(TranscriptionJobRow).where(
            TranscriptionJobRow.status == JobStatus.PROCESSING,
            sa.func.coalesce(TranscriptionJobRow.heartbeat_at, TranscriptionJobRow.update_date)
            < older_than,
        )
        async with self.db.session() as session:
            return (await session.scalars(query)).all()
