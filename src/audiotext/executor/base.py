"""The executor interface: where and how a submitted job runs."""

from __future__ import annotations

from typing import Protocol

from audiotext.jobs.schemas import JobPublic


class Executor(Protocol):
    async def start(self) -> None:
        """Begin accepting work; pick up jobs an earlier process left unfinished."""

    async def submit(self, job: JobPublic) -> None:
        """Schedule a pending job; raises ``BackendUnavailable`` when it cannot."""

    async def cancel(self, job_id: str) -> None:
        """Stop a job's run if it has one (the row is already cancelled)."""

    async def ping(self) -> None: ...

    async def close(self) -> None:
        """Stop taking work and let running jobs hand back or finish."""
