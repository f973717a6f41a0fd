"""JobService: creating, running, finishing and cancelling jobs over the configured backends.

It is the only way to change a job: every entry point (gateway, local executor, worker,
operator) goes through it, so every change is published and every final state runs the
final-state hooks (webhooks) it was opened with.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from audiotext.bus import Event, EventBus
from audiotext.config import Settings
from audiotext.db.models import TranscriptionJobRow, utcnow
from audiotext.db.repository import JobRepository
from audiotext.engine import Segment, Transcript
from audiotext.engine.base import segment_dict
from audiotext.executor.base import Executor
from audiotext.formats import MEDIA_TYPES, render
from audiotext.jobs.choices import DEFAULT_OUTPUT_FORMATS, OUTPUT_FORMATS, OutputFormat
from audiotext.jobs.errors import (
    AudioTextError,
    BackendUnavailable,
    InvalidTransition,
    JobNotFound,
    ObjectNotFound,
)
from audiotext.jobs.schemas import JobPublic
from audiotext.jobs.states import FINAL_STATES, UNFINISHED_STATES, JobStatus
from audiotext.services.intake import JobIntake
from audiotext.services.shards import ShardStore
from audiotext.storage import ObjectStorage, transcript_key

log = logging.getLogger(__name__)

FinalHook = Callable[[JobPublic], Awaitable[None]]
# The field of a job's event that carries the segment just decoded (the live text).
LIVE_SEGMENT = "segment"
# How long a reader of a job's events waits on a quiet bus before asking the database.
QUIET_SECONDS = 2.0


class JobService:
    """Jobs over one database, storage and bus; ``executor`` runs what is submitted (none in
    the operator and the worker, which only record), ``final_hooks`` see each final state."""

    def __init__(
        self,
        settings: Settings,
        repo: JobRepository,
        storage: ObjectStorage,
        bus: EventBus,
        *,
        executor: Executor | None = None,
        final_hooks: Sequence[FinalHook] = (),
    ) -> None:
        self.settings = settings
        self._repo = repo
        self._storage = storage
        self._bus = bus
        self._executor = executor
        self._final_hooks = tuple(final_hooks)
        # Creating a job is a part of its own (intake.py); its methods are this service's.
        intake = JobIntake(settings, repo, storage, executor, publish=self._publish, fail=self.fail)
        self.create_from_file = intake.create_from_file
        self.create_from_url = intake.create_from_url
        self.register = intake.register
        self.shards = ShardStore(storage)  # the transcripts of a sharded job's pods

    # --- reading -------------------------------------------------------------------------
    async def get(self, job_id: str, *, owner: str | None = None) -> JobPublic:
        return JobPublic.model_validate(await self._repo.get_fields(job_id, owner=owner))

    async def list(
        self, *, status: JobStatus | None, limit: int, offset: int, owner: str | None = None
    ) -> tuple[list[JobPublic], int]:
        rows, total = await self._repo.list(status=status, owner=owner, limit=limit, offset=offset)
        return [JobPublic.of(r) for r in rows], total

    async def transcript(self, job_id: str, *, owner: str | None = None) -> Transcript:
        job = await self.get(job_id, owner=owner)
        if job.status != JobStatus.COMPLETED:
            raise InvalidTransition(f"job {job_id} is {job.status.value}; no transcript yet")
        data = await self._storage.get_bytes(transcript_key(job_id, "json"))
        return Transcript.from_dict(json.loads(data))

    async def audio(self, job_id: str, *, owner: str | None = None) -> tuple[JobPublic, str, int]:
        """A job, the storage key of its audio and the audio's size in bytes."""
        job = await self.get(job_id, owner=owner)
        key = self._storage.key_for(job.url)
        size = await self._storage.size(key)
        if size is None:
            raise ObjectNotFound(f"the audio of job {job_id} is no longer stored")
        return job, key, size

    async def row(self, job_id: str) -> TranscriptionJobRow:
        """A job's whole row (what its run is made of); ``JobNotFound`` when there is none."""
        return await self._repo.get(job_id)

    async def find(self, job_id: str) -> TranscriptionJobRow | None:
        return await self._repo.find(job_id)

    async def unfinished(self) -> Sequence[TranscriptionJobRow]:
        return await self._repo.with_status(*UNFINISHED_STATES)

    async def progress_of(self, job_ids: Sequence[str]) -> Sequence[Any]:
        """The progress columns of those of these jobs that have not ended."""
        return await self._repo.progress_of(job_ids)

    async def silent_since(self, cutoff: datetime) -> Sequence[TranscriptionJobRow]:
        """Running jobs whose worker has not sent a heartbeat since ``cutoff``."""
        return await self._repo.stale_running(cutoff)

    async def finished_counts(self) -> dict[JobStatus, int]:
        """How many jobs ended in each final state, whoever finished them."""
        return await self._repo.count_by_status(FINAL_STATES)

    def subscribe(self, job_id: str) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        """Each change of one job, from now on (see ``EventBus.subscribe``)."""
        return self._bus.subscribe(job_id)

    @asynccontextmanager
    async def local_audio(self, url: str) -> AsyncIterator[Path]:
        """A job's audio (or a speaker's clip) as a local file, while the context lasts."""
        async with self._storage.local_path(self._storage.key_for(url)) as path:
            yield path

    def output_urls(self, job_id: str, formats: Sequence[OutputFormat]) -> dict[str, str]:
        """format → URL of each transcript artifact of a job."""
        return {fmt: self._storage.url_for(transcript_key(job_id, fmt)) for fmt in formats}

    async def store_transcript(
        self,
        job_id: str,
        transcript: Transcript,
        formats: Sequence[OutputFormat] = DEFAULT_OUTPUT_FORMATS,
    ) -> dict[str, str]:
        """One artifact per format asked for; returns format → URL. The JSON one is always
        written: the transcript route renders every format from it."""
        written = [fmt for fmt in OUTPUT_FORMATS if fmt in formats or fmt == "json"]
        for fmt in written:
            body = render(transcript, fmt).encode()
            await self._storage.put_bytes(transcript_key(job_id, fmt), body, MEDIA_TYPES[fmt])
        return self.output_urls(job_id, written)

    # --- running -------------------------------------------------------------------------
    async def start(self, job_id: str, *, resume: bool = False) -> TranscriptionJobRow | None:
        """Claim a pending job for a run; None when it is no longer pending (cancelled).

        ``resume`` also claims a job left processing by an earlier attempt (a Job pod that
        was killed), which is how a retried worker takes over.
        """
        current = await self._repo.get(job_id)
        sources = list(UNFINISHED_STATES) if resume else [JobStatus.PENDING]
        try:
            row = await self._repo.transition(
                job_id,
                JobStatus.PROCESSING,
                only_from=sources,
                attempts=current.attempts + 1,
                progress=0,
                error_message=None,
                queued=None,
                started_at=utcnow(),
                heartbeat_at=utcnow(),
            )
        except InvalidTransition:
            return None
        await self._publish(JobPublic.of(row))
        return row

    async def mark_queued(self, job_id: str, reason: str) -> None:
        """Kueue holds this pending job back for ``reason``; its clients are told."""
        try:
            row = await self._repo.transition(
                job_id, JobStatus.PENDING, only_from=[JobStatus.PENDING], queued=reason
            )
        except (InvalidTransition, JobNotFound):
            return  # it runs, or ended, meanwhile
        await self._publish(JobPublic.of(row))

    async def heartbeat(self, job_id: str) -> None:
        """The run of this job is alive (the reapers look for silent ones)."""
        await self._repo.update_fields(job_id, heartbeat_at=utcnow())

    async def report_progress(
        self,
        job_id: str,
        progress: int,
        *,
        language: str | None = None,
        duration: float | None = None,
        segment: Segment | None = None,
        shards: dict[str, int] | None = None,
    ) -> JobPublic:
        """Record how far the job is; its event carries the ``segment`` just decoded."""
        fields: dict[str, Any] = {"progress": max(0, min(progress, 99)), "heartbeat_at": utcnow()}
        if shards is not None:
            fields["shards"] = shards
        if language:
            fields["language"] = language
        if duration is not None:
            fields["audio_duration_seconds"] = duration
        row = await self._repo.transition(
            job_id, JobStatus.PROCESSING, only_from=[JobStatus.PROCESSING], **fields
        )
        job = JobPublic.of(row)
        await self._publish(job, segment)
        return job

    async def raise_progress(self, job_id: str, progress: int) -> JobPublic | None:
        """Progress from one of several pods of a sharded job: written only where it is
        higher than the row's (the pods do not see each other), so it never goes back."""
        row = await self._repo.raise_progress(job_id, max(0, min(progress, 99)))
        if row is None:
            return None
        job = JobPublic.of(row)
        await self._publish(job)
        return job

    async def join(self, job_id: str) -> TranscriptionJobRow | None:
        """A sharded job for one of its pods: claimed by the first (as ``start`` does), taken
        as it is by the others; None when it is no longer runnable."""
        row = await self._repo.find(job_id)
        if row is None or row.status.is_final:
            return None
        if row.status == JobStatus.PROCESSING:
            return row
        claimed = await self.start(job_id)  # from pending: of pods that race, one claims it
        if claimed is not None:
            return claimed
        again = await self._repo.find(job_id)
        return again if again is not None and not again.status.is_final else None

    async def publish_segment(self, job: JobPublic, segment: Segment) -> None:
        """The text just decoded, live: an event of the job as it is (``job``, unchanged in
        the database) with the ``segment`` in a field the seed's clients ignore."""
        await self._publish(job, segment)

    async def complete(self, job_id: str, transcript: Transcript, elapsed: float) -> JobPublic:
        row = await self._repo.transition(
            job_id,
            JobStatus.COMPLETED,
            only_from=[JobStatus.PROCESSING],
            progress=100,
            result_text=transcript.text,
            language=transcript.language or None,
            audio_duration_seconds=transcript.duration,
            processing_time_seconds=round(elapsed, 3),
            completed_at=utcnow(),
            error_message=None,
            speakers=None if transcript.speakers is None else len(transcript.speakers),
            languages=None
            if transcript.languages is None
            else [asdict(share) for share in transcript.languages],
        )
        return await self._finished(JobPublic.of(row))

    async def fail(self, job_id: str, message: str, elapsed: float | None = None) -> JobPublic:
        fields: dict[str, Any] = {"error_message": message[:4000], "completed_at": utcnow()}
        if elapsed is not None:
            fields["processing_time_seconds"] = round(elapsed, 3)
        row = await self._repo.transition(job_id, JobStatus.FAILED, **fields)
        return await self._finished(JobPublic.of(row))

    async def fail_unfinished(self, job_id: str, message: str) -> JobPublic | None:
        """Fail a job unless it ended already (then None), so no row is left unfinished."""
        try:
            return await self.fail(job_id, message)
        except (InvalidTransition, JobNotFound):
            return None

    async def requeue(self, job_id: str, message: str, *, as_attempt: bool = True) -> JobPublic:
        """Put an interrupted run back in the queue. A run that a backend outage cut short
        (``as_attempt=False``) is not counted as one of the job's attempts, and a job that
        never left pending stays as it is."""
        fields: dict[str, Any] = {}
        if not as_attempt:
            row = await self._repo.get(job_id)
            if row.status == JobStatus.PENDING:
                return JobPublic.of(row)
            fields["attempts"] = max(0, row.attempts - 1)
        row = await self._repo.transition(
            job_id,
            JobStatus.PENDING,
            only_from=[JobStatus.PROCESSING],
            progress=0,
            error_message=message,
            **fields,
        )
        job = JobPublic.of(row)
        await self._publish(job)
        return job

    async def cancel(self, job_id: str, *, owner: str | None = None) -> JobPublic:
        job = await self.get(job_id, owner=owner)
        if job.status.is_final:
            raise InvalidTransition(f"job {job_id} is already {job.status.value}")
        # The executor first: if it cannot stop the run (503), the row must not say cancelled.
        if self._executor is not None:
            await self._executor.cancel(job_id)
        row = await self._repo.transition(
            job_id, JobStatus.CANCELLED, completed_at=utcnow(), error_message="cancelled"
        )
        return await self._finished(JobPublic.of(row))

    async def reap_stale(self, *, skip: frozenset[str] = frozenset()) -> Sequence[JobPublic]:
        """Retry (or fail, once attempts are used up) running jobs whose worker went silent."""
        cutoff = utcnow() - timedelta(seconds=self.settings.stale_job_seconds)
        reaped = []
        for row in await self._repo.stale_running(cutoff):
            if row.id in skip:
                continue
            try:
                if row.attempts >= self.settings.max_attempts:
                    job = await self.fail(
                        row.id,
                        f"the worker stopped sending heartbeats ({row.attempts} attempts); "
                        "giving up",
                    )
                else:
                    job = await self.requeue(
                        row.id, "the worker stopped sending heartbeats; retrying"
                    )
                    if self._executor is not None:
                        await self._executor.submit(job)
            except InvalidTransition:
                continue  # it finished or was cancelled meanwhile
            reaped.append(job)
        return reaped

    # --- events --------------------------------------------------------------------------
    async def _finished(self, job: JobPublic) -> JobPublic:
        if job.shards is not None and job.shards.total > 1:
            try:  # a sharded job's pods' transcripts, stitched or not, are not kept
                await self.shards.remove(job.id, job.shards.total)
            except AudioTextError as exc:
                log.warning("shard transcripts of job %s not removed: %s", job.id, exc)
        await self._publish(job)
        for hook in self._final_hooks:
            try:
                await hook(job)
            except Exception:
                log.exception("final-state hook failed for job %s", job.id)
        return job

    async def _publish(self, job: JobPublic, segment: Segment | None = None) -> None:
        # The database is the source of truth; a bus outage must not fail the state change.
        event = job.event()
        if segment is not None:
            event[LIVE_SEGMENT] = segment_dict(segment)
        try:
            await self._bus.publish(job.id, event)
        except BackendUnavailable as exc:
            log.warning("event for job %s not published: %s", job.id, exc)


async def wait_for_final(jobs: JobService, job_id: str, timeout: float) -> JobPublic:
    """Wait until a job reaches a final state; events first, the database as a fallback."""
    async for _ in job_events(jobs, job_id, timeout=timeout):
        pass
    return await jobs.get(job_id)


async def job_events(
    jobs: JobService,
    job_id: str,
    *,
    owner: str | None = None,
    timeout: float | None = None,
    poll_seconds: float = QUIET_SECONDS,
) -> AsyncIterator[Event]:
    """A job's state now, then each change and each decoded segment as they come, until its
    final state (the last one yielded). When the bus is quiet for ``poll_seconds`` the
    database is asked, so a lost event cannot hang a reader; events older than what was
    yielded are dropped. ``BackendUnavailable`` once ``timeout`` has passed."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    async with jobs.subscribe(job_id) as events:
        # Subscribed first, then read: no change can fall between the two.
        last = (await jobs.get(job_id, owner=owner)).event()
        yield last
        while not JobStatus(last["status"]).is_final:
            wait = poll_seconds if deadline is None else min(poll_seconds, deadline - loop.time())
            if wait <= 0:
                raise BackendUnavailable(f"job {job_id} did not finish within {timeout:.0f}s")
            try:
                async with asyncio.timeout(wait):
                    event = await anext(events)
            except TimeoutError:
                event = (await jobs.get(job_id, owner=owner)).event()
            if event == last or (_older(event, last) and LIVE_SEGMENT not in event):
                continue
            yield event
            last = event


def _older(event: Event, last: Event) -> bool:
    # ISO timestamps in UTC compare as strings; a state from before what was sent is stale.
    return str(event.get("update_date", "")) < str(last.get("update_date", ""))
