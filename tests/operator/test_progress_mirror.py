"""The operator-wide progress copy: what it patches, and the one query behind it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from audiotext.db.migrate import upgrade
from audiotext.db.models import TranscriptionJobRow
from audiotext.db.repository import JobRepository
from audiotext.db.session import Database
from audiotext.jobs.states import JobStatus
from audiotext.operator.progress import ProgressMirror, progress_changes, stalled
from audiotext.operator.status import observe_job

from helpers import make_settings


def job_row(**fields: Any) -> TranscriptionJobRow:
    values: dict[str, Any] = {
        "filename": "talk.flac",
        "url": "s3://bucket/talk.flac",
        "status": JobStatus.PROCESSING,
        "model": "tiny.en",
        "engine": "faster-whisper",
        "task": "transcribe",
        "progress": 0,
        "attempts": 1,
        "options": {},
        "callback_attempts": 0,
    }
    values.update(fields)
    return TranscriptionJobRow(**values)


def test_only_what_moved_is_patched() -> None:
    row = job_row(progress=40, language="en", audio_duration_seconds=11.0)
    assert progress_changes({}, row) == {
        "progress": 40,
        "language": "en",
        "audioDurationSeconds": 11.0,
    }
    shown = {"progress": 40, "language": "en", "audioDurationSeconds": 11.0}
    assert progress_changes(shown, row) == {}
    assert progress_changes(shown, job_row(progress=55, language="en")) == {"progress": 55}


def test_a_row_without_language_or_duration_patches_progress_alone() -> None:
    assert progress_changes({"progress": 0}, job_row(progress=5)) == {"progress": 5}


def test_job_events_that_change_nothing_shown_are_recognised() -> None:
    mirror = ProgressMirror(context=cast(Any, None), interval=1.0)
    manifest: dict[str, Any] = {"spec": {"suspend": False}}
    mirror.follow("j", "ns", "r", {"phase": "Pending", "progress": 0}, observe_job(manifest))
    added = {"spec": {"suspend": False}, "status": {}}
    assert mirror.seen_before("j", observe_job(added))
    running = {"spec": {"suspend": False}, "status": {"active": 1, "startTime": "t0"}}
    assert not mirror.seen_before("j", observe_job(running))
    mirror.follow("j", "ns", "r", {"phase": "Running", "progress": 0}, observe_job(running))
    ready = {"spec": {"suspend": False}, "status": {"active": 1, "ready": 1, "startTime": "t0"}}
    assert mirror.seen_before("j", observe_job(ready))
    # A resource followed again without an observation (resumed): every event counts.
    mirror.follow("j", "ns", "r", {"phase": "Running", "progress": 10})
    assert not mirror.seen_before("j", observe_job(ready))
    mirror.follow("j", "ns", "r", {"phase": "Running", "progress": 10}, observe_job(ready))
    mirror.forget("j")
    assert not mirror.seen_before("j", observe_job(ready))


def test_finished_jobs_are_left_to_the_job_events() -> None:
    for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
        assert progress_changes({}, job_row(status=status, progress=100)) == {}


def test_stalled_workers_of_followed_jobs_are_restarted_once_per_stale_period() -> None:
    rows = [job_row(id="a"), job_row(id="b"), job_row(id="other-operator")]
    followed = {"a": ("ns", "a"), "b": ("ns", "b")}
    assert stalled(rows, followed, {}, now=1000.0, stale_seconds=60) == ["a", "b"]
    # "a" got a new pod 30 s ago: it has until a whole stale period has passed to claim it.
    restarted = {"a": 970.0, "b": 900.0}
    assert stalled(rows, followed, restarted, now=1000.0, stale_seconds=60) == ["b"]
    assert stalled(rows, followed, restarted, now=1031.0, stale_seconds=60) == ["a", "b"]


def test_pending_jobs_are_copied_too() -> None:
    assert progress_changes({}, job_row(status=JobStatus.PENDING)) == {"progress": 0}


async def test_progress_of_reads_many_unfinished_jobs_in_one_go(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        repo = JobRepository(db)
        ids = [(await repo.add(job_row(progress=i))).id for i in range(1_203)]
        pending = (await repo.add(job_row(status=JobStatus.PENDING))).id
        done = (await repo.add(job_row(status=JobStatus.COMPLETED, progress=100))).id
        found = await repo.progress_of([*ids, pending, done, "no-such-job"])
        assert sorted(r.id for r in found) == sorted([*ids, pending])
        assert {r.id: r.progress for r in found}[ids[7]] == 7
        assert {r.id: r.status for r in found}[pending] is JobStatus.PENDING
        assert progress_changes({}, found[0]) == {"progress": found[0].progress}
        assert await repo.progress_of([]) == []
    finally:
        await db.close()
