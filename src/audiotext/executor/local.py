"""The local executor: a bounded pool of job runners inside the server process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from audiotext.config import Settings
from audiotext.executor.base import JobControl, RunJob
from audiotext.jobs.errors import BackendUnavailable, InvalidTransition, JobNotFound
from audiotext.jobs.outcomes import Outcome
from audiotext.jobs.schemas import JobPublic
from audiotext.jobs.states import JobStatus

log = logging.getLogger(__name__)

RETRY_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 30.0
# Doublings from the first delay to the longest: an outage is waited out for this many retries
# plus ``max_attempts`` at the longest delay before the job is failed.
_RETRIES_TO_LONGEST_DELAY = 6


class LocalExecutor:
    # Given at start: the job service is built on this executor, not the other way round.
    jobs: JobControl
    _run_job: RunJob

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.running: dict[str, asyncio.Task[Outcome]] = {}
        self._runners: list[asyncio.Task[None]] = []
        self._closing = False
        self._interruptions: dict[str, int] = {}  # job id → outage-interrupted runs in a row
        self._retries: set[asyncio.Task[None]] = set()

    async def start(self, jobs: JobControl, run: RunJob) -> None:
        self.jobs = jobs
        self._run_job = run
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
        """Queue again what an earlier process left pending, and running jobs gone silent.

        A running job with a fresh heartbeat belongs to another live gateway on the same
        database, so only stale ones are taken over (all of them when heartbeats are off).
        """
        for row in await self.jobs.unfinished():
            if row.status == JobStatus.PENDING:
                self.queue.put_nowait(row.id)
        for job in await self.jobs.reap_stale():
            log.warning("job %s was left running: %s", job.id, job.status.value)

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
        """Run queued jobs one after another; no error of one job ends the loop."""
        while True:
            job_id = await self.queue.get()
            outcome = await self._run(job_id)
            if outcome is Outcome.TRANSIENT:
                # Retry in the background so this runner serves the rest of the queue.
                retry = asyncio.create_task(self._retry(job_id))
                self._retries.add(retry)
                retry.add_done_callback(self._retries.discard)
            elif outcome is not None:
                self._interruptions.pop(job_id, None)

    async def _run(self, job_id: str) -> Outcome | None:
        """One run of a job; None when it was cancelled (its row already says so)."""
        task = asyncio.create_task(self._run_job(job_id))
        self.running[job_id] = task
        try:
            await asyncio.wait({task})
        finally:
            self.running.pop(job_id, None)
        if task.cancelled():
            return None
        try:
            return task.result()
        except BackendUnavailable as exc:
            # Raised where the run could not catch it (claiming the job, recording a failure).
            log.warning("job %s could not run: %s", job_id, exc.message)
            return Outcome.TRANSIENT
        except Exception as exc:
            log.exception("job %s failed outside its run", job_id)
            try:
                await self.jobs.fail(job_id, f"{type(exc).__name__}: {exc}")
            except (InvalidTransition, JobNotFound):
                pass
            except BackendUnavailable:
                return Outcome.TRANSIENT
            except Exception:
                log.exception("could not fail job %s", job_id)
            return Outcome.FAILED

    async def _retry(self, job_id: str) -> None:
        """A backend outage interrupted the run: queue it again, with backoff.

        The interrupted run does not count as an attempt; instead the outage is waited out
        with a growing delay, ``max_attempts`` times at the longest, before the job is failed,
        so a backend that never comes back cannot keep a job pending forever.
        """
        count = self._interruptions.get(job_id, 0) + 1
        self._interruptions[job_id] = count
        delay = min(RETRY_DELAY_SECONDS * 2 ** (count - 1), MAX_RETRY_DELAY_SECONDS)
        give_up = count > self.settings.max_attempts + _RETRIES_TO_LONGEST_DELAY
        wait = delay
        while True:
            try:
                if give_up:
                    await self.jobs.fail(
                        job_id, f"a backend was unavailable for {count} tries; giving up"
                    )
                else:
                    await self.jobs.requeue(
                        job_id, "a backend was unavailable; retrying", as_attempt=False
                    )
                break
            except (InvalidTransition, JobNotFound):
                self._interruptions.pop(job_id, None)
                return  # finished, cancelled or deleted meanwhile
            except BackendUnavailable as exc:
                # The database itself is away: only this task can put the job back, so wait.
                log.warning("job %s not requeued yet: %s", job_id, exc.message)
            except Exception:
                log.exception("could not requeue job %s; failing it", job_id)
                give_up = True
            await asyncio.sleep(wait)
            wait = min(wait * 2, MAX_RETRY_DELAY_SECONDS)
        if give_up:
            self._interruptions.pop(job_id, None)
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
