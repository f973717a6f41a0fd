"""JobService: creating, running, finishing and cancelling jobs over the configured backends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from audiotext import audio
from audiotext.bus import EventBus
from audiotext.config import Settings
from audiotext.db.models import TranscriptionJobRow, utcnow
from audiotext.db.repository import JobRepository
from audiotext.engine import Transcript
from audiotext.executor.base import Executor
from audiotext.jobs.errors import (
    AudioTextError,
    BackendUnavailable,
    InvalidAudio,
    InvalidParameter,
    InvalidTransition,
    ObjectNotFound,
    PayloadTooLarge,
    RateLimited,
    UnsupportedAudio,
)
from audiotext.jobs.schemas import JobPublic
from audiotext.jobs.states import JobStatus
from audiotext.netguard import check_outbound_url
from audiotext.storage import ObjectStorage, upload_key

log = logging.getLogger(__name__)

FinalHook = Callable[[JobPublic], Awaitable[None]]


@dataclass(frozen=True)
class JobRequest:
    """What a client asks for, independent of how the audio arrived."""

    filename: str
    description: str | None = None
    model: str | None = None
    engine: str | None = None
    language: str | None = None
    task: Literal["transcribe", "translate"] = "transcribe"
    prompt: str | None = None
    temperature: float | None = None
    callback_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


class JobService:
    def __init__(
        self,
        settings: Settings,
        repo: JobRepository,
        storage: ObjectStorage,
        bus: EventBus,
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.storage = storage
        self.bus = bus
        self.executor: Executor | None = None
        self.final_hooks: list[FinalHook] = []

    # --- creating ------------------------------------------------------------------------
    async def create_from_file(
        self, request: JobRequest, path: Path, content_type: str, *, owner: str | None = None
    ) -> JobPublic:
        """A job for audio the gateway received itself (multipart, OpenAI endpoints)."""
        # The body limit allows for multipart framing; the file itself gets the exact limit.
        self._check_size((await asyncio.to_thread(path.stat)).st_size)
        await self._admit(request, owner)
        info = await asyncio.to_thread(audio.probe, path)
        self._check_duration(info.duration)
        key = upload_key(request.filename, owner)
        await self.storage.put_file(key, path, content_type or audio.CONTENT_TYPES[info.format])
        try:
            return await self._create(request, key, owner=owner, duration=info.duration)
        except BaseException:
            await self._forget_object(key)
            raise

    async def create_from_url(
        self, request: JobRequest, url: str, *, owner: str | None = None
    ) -> JobPublic:
        """A job for an object the client uploaded with a presigned URL."""
        key = self.storage.key_for(url)
        if owner is not None and not key.startswith(f"uploads/{owner}/"):
            raise ObjectNotFound("no such uploaded object")
        size = await self.storage.size(key)
        if size is None:
            raise ObjectNotFound("no such uploaded object; upload it with the presigned URL first")
        try:
            self._check_size(size)
        except PayloadTooLarge:
            await self._forget_object(key)
            raise
        await self._admit(request, owner)
        try:
            async with self.storage.local_path(key) as path:
                info = await asyncio.to_thread(audio.probe, path)
            self._check_duration(info.duration)
        except (InvalidAudio, UnsupportedAudio):
            # A rejected upload is removed, so nothing is left behind.
            await self._forget_object(key)
            raise
        return await self._create(request, key, owner=owner, duration=info.duration)

    async def _admit(self, request: JobRequest, owner: str | None) -> None:
        """Checks that need no audio: run before anything is stored."""
        if request.engine not in (None, "faster-whisper", "openai-whisper"):
            raise InvalidParameter(f"unknown engine {request.engine!r}")
        await self._check_quota(owner, counting_this_one=False)
        if request.callback_url:
            if not self.settings.webhook_secret.get_secret_value():
                # Signed with an empty key, anyone could forge the deliveries.
                raise InvalidParameter(
                    "callback_url needs a webhook secret: this server has no "
                    "AUDIOTEXT_WEBHOOK_SECRET, so its deliveries could be forged"
                )
            await check_outbound_url(
                request.callback_url, allow_private=self.settings.webhook_allow_private
            )

    async def _check_quota(self, owner: str | None, *, counting_this_one: bool) -> None:
        quota = self.settings.max_active_jobs_per_key
        if owner is None or quota <= 0:
            return
        active = await self.repo.count_active(owner)
        if active - (1 if counting_this_one else 0) >= quota:
            raise RateLimited(f"this key already has {quota} pending or running jobs", 5)

    def _check_size(self, size: int) -> None:
        if size > self.settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"the audio is larger than {self.settings.max_upload_bytes} bytes"
            )

    def _check_duration(self, duration: float | None) -> None:
        if duration is not None and duration > self.settings.max_audio_seconds:
            raise InvalidAudio(
                f"the audio claims {duration:.0f}s; the limit is "
                f"{self.settings.max_audio_seconds:.0f}s"
            )

    async def _create(
        self, request: JobRequest, key: str, *, owner: str | None, duration: float | None
    ) -> JobPublic:
        row = self._pending_row(
            request, self.storage.url_for(key), owner=owner, audio_duration_seconds=duration
        )
        row = await self.repo.add(row)
        try:
            # Requests that passed the first check together: each counts again with its own
            # row in, so the last of them to count sees every other and steps back.
            await self._check_quota(owner, counting_this_one=True)
        except RateLimited:
            await self.repo.delete(row.id)
            raise
        job = JobPublic.of(row)
        await self._publish(job)
        assert self.executor is not None, "an executor is bound at start-up"
        try:
            await self.executor.submit(job)
        except AudioTextError as exc:
            job = await self.fail(job.id, f"could not be scheduled: {exc.message}")
            raise BackendUnavailable(f"job {job.id} could not be scheduled: {exc.message}") from exc
        return job

    def _pending_row(self, request: JobRequest, url: str, **fields: Any) -> TranscriptionJobRow:
        """A new job's row as the request asks for it; ``fields`` adds id, owner, duration."""
        options = dict(request.options)
        if request.prompt is not None:
            options["prompt"] = request.prompt
        if request.temperature is not None:
            options["temperature"] = request.temperature
        return TranscriptionJobRow(
            filename=request.filename[:255],
            url=url,
            status=JobStatus.PENDING,
            description=request.description,
            model=request.model or self.settings.model,
            engine=request.engine or self.settings.engine,
            language=request.language,
            task=request.task,
            progress=0,
            attempts=0,
            options=options,
            callback_url=request.callback_url,
            callback_attempts=0,
            **fields,
        )

    async def register(self, job_id: str, request: JobRequest, url: str) -> JobPublic:
        """The row of a job that started outside the gateway (``kubectl apply``)."""
        existing = await self.repo.find(job_id)
        if existing is not None:
            return JobPublic.of(existing)
        row = self._pending_row(request, url, id=job_id)
        job = JobPublic.of(await self.repo.add(row))
        await self._publish(job)
        return job

    async def _forget_object(self, key: str) -> None:
        try:
            await self.storage.delete(key)
        except Exception:  # cleanup must not hide the original error
            log.exception("could not delete object %s", key)

    # --- reading -------------------------------------------------------------------------
    async def get(self, job_id: str, *, owner: str | None = None) -> JobPublic:
        return JobPublic.model_validate(await self.repo.get_fields(job_id, owner=owner))

    async def list(
        self, *, status: JobStatus | None, limit: int, offset: int, owner: str | None = None
    ) -> tuple[list[JobPublic], int]:
        rows, total = await self.repo.list(status=status, owner=owner, limit=limit, offset=offset)
        return [JobPublic.of(r) for r in rows], total

    async def transcript(self, job_id: str, *, owner: str | None = None) -> Transcript:
        import json

        from audiotext.storage import transcript_key

        job = await self.get(job_id, owner=owner)
        if job.status != JobStatus.COMPLETED:
            raise InvalidTransition(f"job {job_id} is {job.status.value}; no transcript yet")
        data = await self.storage.get_bytes(transcript_key(job_id, "json"))
        return Transcript.from_dict(json.loads(data))

    # --- running -------------------------------------------------------------------------
    async def start(self, job_id: str, *, resume: bool = False) -> TranscriptionJobRow | None:
        """Claim a pending job for a run; None when it is no longer pending (cancelled).

        ``resume`` also claims a job left processing by an earlier attempt (a Job pod that
        was killed), which is how a retried worker takes over.
        """
        current = await self.repo.get(job_id)
        sources = [JobStatus.PENDING, JobStatus.PROCESSING] if resume else [JobStatus.PENDING]
        try:
            row = await self.repo.transition(
                job_id,
                JobStatus.PROCESSING,
                only_from=sources,
                attempts=current.attempts + 1,
                progress=0,
                error_message=None,
                started_at=utcnow(),
                heartbeat_at=utcnow(),
            )
        except InvalidTransition:
            return None
        await self._publish(JobPublic.of(row))
        return row

    async def report_progress(
        self,
        job_id: str,
        progress: int,
        *,
        language: str | None = None,
        duration: float | None = None,
    ) -> JobPublic:
        fields: dict[str, Any] = {"progress": max(0, min(progress, 99)), "heartbeat_at": utcnow()}
        if language:
            fields["language"] = language
        if duration is not None:
            fields["audio_duration_seconds"] = duration
        row = await self.repo.transition(
            job_id, JobStatus.PROCESSING, only_from=[JobStatus.PROCESSING], **fields
        )
        job = JobPublic.of(row)
        await self._publish(job)
        return job

    async def complete(self, job_id: str, transcript: Transcript, elapsed: float) -> JobPublic:
        row = await self.repo.transition(
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
        )
        return await self._finished(JobPublic.of(row))

    async def fail(self, job_id: str, message: str, elapsed: float | None = None) -> JobPublic:
        fields: dict[str, Any] = {"error_message": message[:4000], "completed_at": utcnow()}
        if elapsed is not None:
            fields["processing_time_seconds"] = round(elapsed, 3)
        row = await self.repo.transition(job_id, JobStatus.FAILED, **fields)
        return await self._finished(JobPublic.of(row))

    async def requeue(self, job_id: str, message: str) -> JobPublic:
        """Put an interrupted run back in the queue."""
        row = await self.repo.transition(
            job_id,
            JobStatus.PENDING,
            only_from=[JobStatus.PROCESSING],
            progress=0,
            error_message=message,
        )
        job = JobPublic.of(row)
        await self._publish(job)
        return job

    async def cancel(self, job_id: str, *, owner: str | None = None) -> JobPublic:
        job = await self.get(job_id, owner=owner)
        if job.status.is_final:
            raise InvalidTransition(f"job {job_id} is already {job.status.value}")
        # The executor first: if it cannot stop the run (503), the row must not say cancelled.
        if self.executor is not None:
            await self.executor.cancel(job_id)
        row = await self.repo.transition(
            job_id, JobStatus.CANCELLED, completed_at=utcnow(), error_message="cancelled"
        )
        return await self._finished(JobPublic.of(row))

    async def reap_stale(self, *, skip: frozenset[str] = frozenset()) -> Sequence[JobPublic]:
        """Retry (or fail, once attempts are used up) running jobs whose worker went silent."""
        cutoff = utcnow() - timedelta(seconds=self.settings.stale_job_seconds)
        reaped = []
        for row in await self.repo.stale_running(cutoff):
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
                    if self.executor is not None:
                        await self.executor.submit(job)
            except InvalidTransition:
                continue  # it finished or was cancelled meanwhile
            reaped.append(job)
        return reaped

    async def unfinished(self) -> Sequence[TranscriptionJobRow]:
        return await self.repo.with_status(JobStatus.PENDING, JobStatus.PROCESSING)

    # --- events --------------------------------------------------------------------------
    async def _finished(self, job: JobPublic) -> JobPublic:
        await self._publish(job)
        for hook in self.final_hooks:
            try:
                await hook(job)
            except Exception:
                log.exception("final-state hook failed for job %s", job.id)
        return job

    async def _publish(self, job: JobPublic) -> None:
        # The database is the source of truth; a bus outage must not fail the state change.
        try:
            await self.bus.publish(job.id, job.event())
        except BackendUnavailable as exc:
            log.warning("event for job %s not published: %s", job.id, exc)


async def wait_for_final(jobs: JobService, job_id: str, timeout: float) -> JobPublic:
    """Wait until a job reaches a final state; events first, the database as a fallback."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with jobs.bus.subscribe(job_id) as events:
        while True:
            job = await jobs.get(job_id)
            if job.status.is_final:
                return job
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise BackendUnavailable(f"job {job_id} did not finish within {timeout:.0f}s")
            try:
                async with asyncio.timeout(min(remaining, 2.0)):
                    async for event in events:
                        if JobStatus(event["status"]).is_final:
                            break
            except TimeoutError:
                pass
