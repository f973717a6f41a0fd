"""The local executor: a bounded pool of job runners inside the server process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from audiotext.engine import EngineRegistry
from audiotext.jobs.errors import InvalidTransition, JobNotFound
from audiotext.jobs.schemas import JobPublic
from audiotext.jobs.states import JobStatus
from audiotext.pipeline import Outcome, run_job
from audiotext.services.jobs import JobService

log = logging.getLogger(__name__)

RETRY_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 30.0


class LocalExecutor:
    def __init__(self, jobs: JobService, engines: EngineRegistry) -> None:
        self.jobs = jobs
        self.engines = engines
        self.settings = jobs.settings
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.running: dict[str, asyncio.Task[Outcome]] = {}
        self._runners: list[asyncio.Task[None]] = []
        self._closing = False
        self._backoff: dict[str, float] = {}
        self._retries: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._recover()
        self._runners = [
            asyncio.create_task(self._runner(), name=f"local-runner-{i}")
            for i in range(self.settings.local_concurrency)
        ]
        if self.settings.stale_job_seconds > 0:
            self._runners.append(asyncio.create_task(self._reaper(), name="stale-job-reaper"))

    async def _reaper(self) -> None:
        """Jobs whose worker went silent (a killed worker process) are retried or failed."""
        every = max(0.5, self.settings.stale_job_seconds / 4)
        while True:
            await asyncio.sleep(every)
            try:
                for job in await self.jobs.reap_stale(skip=frozenset(self.running)):
                    log.warning("job %s had no heartbeat: %s", job.id, job.status.value)
            except Exception:
                log.exception("stale-job reaper failed; trying again")

    async def _recover(self) -> None:
        """Queue again what an earlier process left pending or running."""
        for row in await self.jobs.unfinished():
            if row.status == JobStatus.PROCESSING:
                if row.attempts >= self.settings.max_attempts:
                    await self.jobs.fail(
                        row.id,
                        f"interrupted {row.attempts} times (server restarts); giving up",
                    )
                    continue
                await self.jobs.requeue(row.id, "interrupted by a server restart; retrying")
            self.queue.put_nowait(row.id)

    async def submit(self, job: JobPublic) -> None:
        self.queue.put_nowait(job.id)

    async def cancel(self, job_id: str) -> None:
        task = self.running.get(job_id)
        if task is not None:
            task.cancel()

    async def ping(self) -> None:
        dead = [r for r in self._runners if r.done()]
        if dead or not self._runners:
            raise RuntimeError("local executor is not running")

    @property
    def queued(self) -> int:
        return self.queue.qsize()

    async def _runner(self) -> None:
        while True:
            job_id = await self.queue.get()
            task = asyncio.create_task(run_job(job_id, self.jobs, self.engines))
            self.running[job_id] = task
            try:
                await asyncio.wait({task})
            finally:
                self.running.pop(job_id, None)
            if task.cancelled():
                continue  # the job was cancelled; its row already says so
            if task.result() is Outcome.TRANSIENT:
                # Retry in the background so this runner serves the rest of the queue.
                retry = asyncio.create_task(self._retry(job_id))
                self._retries.add(retry)
                retry.add_done_callback(self._retries.discard)
            else:
                self._backoff.pop(job_id, None)

    async def _retry(self, job_id: str) -> None:
        """A backend outage interrupted the run: queue it again once, with backoff.

        The interrupted run does not count as an attempt, so an outage longer than a few
        retries never fails a job; the job waits as pending, never stuck as processing.
        """
        delay = self._backoff.get(job_id, RETRY_DELAY_SECONDS)
        self._backoff[job_id] = min(delay * 2, MAX_RETRY_DELAY_SECONDS)
        try:
            row = await self.jobs.repo.get(job_id)
            await self.jobs.repo.transition(
                job_id,
                JobStatus.PENDING,
                only_from=[JobStatus.PROCESSING],
                attempts=max(0, row.attempts - 1),
                progress=0,
                error_message="a backend was unavailable; retrying",
            )
        except (InvalidTransition, JobNotFound):
            self._backoff.pop(job_id, None)
            return
        except Exception:
            # The database itself is away: the stale-job reaper requeues it once it is back.
            log.exception("could not requeue job %s", job_id)
            return
        await asyncio.sleep(delay)
        self.queue.put_nowait(job_id)

    async def close(self) -> None:
        """Stop runners; running jobs go back to pending so the next start resumes them."""
        self._closing = True
        for pending in [*self._runners, *self._retries]:
            pending.cancel()
        interrupted = list(self.running.items())
        for _, task in interrupted:
            task.cancel()
        tasks: list[asyncio.Task[Any]] = [*self._runners, *(t for _, t in interrupted)]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for job_id, _ in interrupted:
            with contextlib.suppress(Exception):
                await self.jobs.requeue(job_id, "interrupted by a server shutdown; will resume")
        self._runners = []
