"""Status reads bypass the ORM (inline on SQLite, psycopg's pool on PostgreSQL): they must give
what the ORM gives, and survive a database restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from audiotext.db.migrate import upgrade
from audiotext.db.models import TranscriptionJobRow
from audiotext.db.repository import JobRepository
from audiotext.db.session import Database
from audiotext.jobs.errors import JobNotFound
from audiotext.jobs.states import JobStatus

from support.servers import PostgresServer


def _row() -> TranscriptionJobRow:
    started = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    return TranscriptionJobRow(
        filename="talk.flac",
        url="file:///talk.flac",
        status=JobStatus.COMPLETED,
        result_text="And so, my fellow Americans",
        processing_time_seconds=1.25,
        model="tiny.en",
        engine="faster-whisper",
        language="en",
        progress=100,
        audio_duration_seconds=11.0,
        options={"formats": ["json", "srt"], "beam_size": 5},
        owner="tenant-a",
        started_at=started,
        completed_at=started + timedelta(seconds=2),
    )


async def _fast_and_orm(db: Database) -> tuple[dict[str, Any], dict[str, Any]]:
    repo = JobRepository(db)
    row = await repo.add(_row())
    fast = await repo.get_fields(row.id, owner="tenant-a")
    async with db.session() as session:
        stored = await session.get(TranscriptionJobRow, row.id)
    assert stored is not None
    orm = {column.key: getattr(stored, column.key) for column in TranscriptionJobRow.__table__.c}
    return fast, orm


def _assert_same(fast: dict[str, Any], orm: dict[str, Any]) -> None:
    assert fast == orm
    assert type(fast["status"]) is JobStatus
    assert fast["options"] == {"formats": ["json", "srt"], "beam_size": 5}
    for key in ("creation_date", "started_at", "completed_at"):
        assert fast[key].utcoffset() == timedelta(0), key


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    else:
        url = str(request.getfixturevalue("postgres_database"))
    upgrade(url)
    return url


async def test_fast_read_matches_the_orm(database_url: str) -> None:
    db = Database(database_url)
    try:
        fast, orm = await _fast_and_orm(db)
        _assert_same(fast, orm)
        with pytest.raises(JobNotFound):
            await JobRepository(db).get_fields(fast["id"], owner="tenant-b")
        with pytest.raises(JobNotFound):
            await JobRepository(db).get_fields("no-such-job")
    finally:
        await db.close()


@pytest.mark.postgres
async def test_first_read_after_a_postgres_restart_succeeds(
    postgres_server: PostgresServer, postgres_database: str
) -> None:
    upgrade(postgres_database)
    db = Database(postgres_database, pool_size=4, pool_timeout=5)
    repo = JobRepository(db)
    try:
        job_id = (await repo.add(_row())).id
        # Several pooled connections, all of which the restart kills.
        await asyncio.gather(*(repo.get_fields(job_id) for _ in range(8)))
        await asyncio.to_thread(postgres_server.stop)
        await asyncio.to_thread(postgres_server.start)
        fields = await repo.get_fields(job_id)
        assert fields["status"] is JobStatus.COMPLETED
    finally:
        await db.close()
