"""Creating jobs: the checks a request must pass, storing its audio (and the clips of known
speakers), its row, the quota counted again with the row in, then the executor. Part of the
job service, which hands out these methods as its own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from audiotext import audio
from audiotext.config import Settings
from audiotext.db.repository import JobRepository
from audiotext.executor.base import Executor
from audiotext.jobs.errors import (
    AudioTextError,
    BackendUnavailable,
    InvalidAudio,
    ObjectNotFound,
    PayloadTooLarge,
    RateLimited,
    UnsupportedAudio,
)
from audiotext.jobs.schemas import JobPublic
from audiotext.services.admission import (
    JobRequest,
    check_duration,
    check_request,
    check_size,
    pending_row,
)
from audiotext.services.speaker_references import KnownSpeaker
from audiotext.storage import ObjectStorage, upload_key, upload_prefix

log = logging.getLogger(__name__)


class JobIntake:
    def __init__(
        self,
        settings: Settings,
        repo: JobRepository,
        storage: ObjectStorage,
        executor: Executor | None,
        *,
        publish: Callable[[JobPublic], Awaitable[None]],
        fail: Callable[[str, str], Awaitable[JobPublic]],
    ) -> None:
        self.settings = settings
        self._repo = repo
        self._storage = storage
        self._executor = executor
        self._publish = publish
        self._fail = fail

    async def create_from_file(
        self,
        request: JobRequest,
        path: Path,
        content_type: str,
        *,
        owner: str | None = None,
        speakers: Sequence[KnownSpeaker] = (),
    ) -> JobPublic:
        """A job for audio the gateway received itself (multipart, OpenAI endpoints), with
        clips of the ``speakers`` diarization is to name."""
        # The body limit allows for multipart framing; the file itself gets the exact limit.
        check_size(self.settings, (await asyncio.to_thread(path.stat)).st_size)
        await self._admit(request, owner)
        info = await asyncio.to_thread(audio.probe, path)
        check_duration(self.settings, info.duration)
        stored: list[str] = []
        try:
            key = upload_key(request.filename, owner)
            await self._storage.put_file(
                key, path, content_type or audio.CONTENT_TYPES[info.format]
            )
            stored.append(key)
            known = []
            for speaker in speakers:
                clip = upload_key(f"speaker-{speaker.name}", owner)
                await self._storage.put_file(clip, speaker.path, speaker.content_type)
                stored.append(clip)
                known.append({"name": speaker.name, "url": self._storage.url_for(clip)})
            if known:
                request = replace(request, options={**request.options, "known_speakers": known})
            return await self._create(request, key, owner=owner, duration=info.duration)
        except BaseException:
            for stored_key in stored:
                await self._forget_object(stored_key)
            raise

    async def create_from_url(
        self, request: JobRequest, url: str, *, owner: str | None = None
    ) -> JobPublic:
        """A job for an object the client uploaded with a presigned URL."""
        key = self._storage.key_for(url)
        if owner is not None and not key.startswith(upload_prefix(owner)):
            raise ObjectNotFound("no such uploaded object")
        size = await self._storage.size(key)
        if size is None:
            raise ObjectNotFound("no such uploaded object; upload it with the presigned URL first")
        try:
            check_size(self.settings, size)
        except PayloadTooLarge:
            await self._forget_object(key)
            raise
        await self._admit(request, owner)
        try:
            async with self._storage.local_path(key) as path:
                info = await asyncio.to_thread(audio.probe, path)
            check_duration(self.settings, info.duration)
        except (InvalidAudio, UnsupportedAudio):
            # A rejected upload is removed, so nothing is left behind.
            await self._forget_object(key)
            raise
        return await self._create(request, key, owner=owner, duration=info.duration)

    async def _admit(self, request: JobRequest, owner: str | None) -> None:
        """Checks that need no audio: run before anything is stored."""
        await check_request(self.settings, request)
        await self._check_quota(owner, counting_this_one=False)

    async def _check_quota(self, owner: str | None, *, counting_this_one: bool) -> None:
        quota = self.settings.max_active_jobs_per_key
        if owner is None or quota <= 0:
            return
        active = await self._repo.count_active(owner)
        if active - (1 if counting_this_one else 0) >= quota:
            raise RateLimited(f"this key already has {quota} pending or running jobs", 5)

    async def _create(
        self, request: JobRequest, key: str, *, owner: str | None, duration: float | None
    ) -> JobPublic:
        url = self._storage.url_for(key)
        row = pending_row(self.settings, request, url, owner=owner, audio_duration_seconds=duration)
        row = await self._repo.add(row)
        try:
            # Requests that passed the first check together: each counts again with its own
            # row in, so the last of them to count sees every other and steps back.
            await self._check_quota(owner, counting_this_one=True)
        except RateLimited:
            await self._repo.delete(row.id)
            raise
        job = JobPublic.of(row)
        await self._publish(job)
        assert self._executor is not None, "only a gateway creates jobs, and it has an executor"
        try:
            await self._executor.submit(job)
        except AudioTextError as exc:
            job = await self._fail(job.id, f"could not be scheduled: {exc.message}")
            raise BackendUnavailable(f"job {job.id} could not be scheduled: {exc.message}") from exc
        return job

    async def register(self, job_id: str, request: JobRequest, url: str) -> JobPublic:
        """The row of a job that started outside the gateway (``kubectl apply``)."""
        existing = await self._repo.find(job_id)
        if existing is not None:
            return JobPublic.of(existing)
        row = pending_row(self.settings, request, url, id=job_id)
        job = JobPublic.of(await self._repo.add(row))
        await self._publish(job)
        return job

    async def _forget_object(self, key: str) -> None:
        try:
            await self._storage.delete(key)
        except Exception:  # cleanup must not hide the original error
            log.exception("could not delete object %s", key)
