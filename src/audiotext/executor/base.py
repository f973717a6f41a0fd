"""The executor interface: where and how a submitted job runs."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from audiotext.db.models import TranscriptionJobRow
from audiotext.jobs.outcomes import Outcome
from audiotext.jobs.schemas import JobPublic

RunJob = Callable[[str], Coroutine[Any, Any, Outcome]]


class JobControl(Protocol):
    """What an executor asks of the job service above it, which it is given at start (the
    service is built on the executor, so the executor never imports it)."""

    async def fail(self, job_id: str, message: str, elapsed: float | None = None) -> JobPublic: ...

    async def requeue(self, job_id: str, message: str, *, as_attempt: bool = True) -> JobPublic: ...

    async def reap_stale(self, *, skip: frozenset[str] = frozenset()) -> Sequence[JobPublic]: ...

    async def unfinished(self) -> Sequence[TranscriptionJobRow]: ...


class Executor(Protocol):
    async def start(self, jobs: JobControl, run: RunJob) -> None:
        """Begin accepting work, running each job here with ``run`` (an executor that runs
        jobs elsewhere needs neither); pick up jobs an earlier process left unfinished."""

    async def submit(self, job: JobPublic) -> None:
        """Schedule a pending job; raises ``BackendUnavailable`` when it cannot."""

    async def cancel(self, job_id: str) -> None:
        """Stop a job's run if it has one (the row is already cancelled)."""

    async def ping(self) -> None: ...

    async def close(self) -> None:
        """Stop taking work and let running jobs hand back or finish."""
