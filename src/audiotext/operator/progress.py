"""One operator-wide loop that copies progress from the database to the resources.

The worker reports progress to the job's row. A kopf timer per resource would cost a task,
a finalizer and two extra writes per resource; this loop reads every running job's row in
one query per interval and patches only the resources whose progress moved.

The same loop restarts hung workers: a running job whose row has had no heartbeat for
``stale_job_seconds`` has its pod deleted, so the Job runs it again within its backoff
limit (and fails with the resource once that is used up). A worker that died is the Job
controller's to retry; one that hangs would otherwise hold its job until the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import ClientError
from kubernetes_asyncio.client.exceptions import ApiException

from audiotext.db.models import TranscriptionJobRow, utcnow
from audiotext.jobs.errors import AudioTextError
from audiotext.kube import constants as k
from audiotext.operator.builders import job_name
from audiotext.operator.context import OperatorContext
from audiotext.operator.rounds import start_rounds, stop_rounds
from audiotext.operator.status import Observation, ProgressRow, progress_status

log = logging.getLogger(__name__)
PATCHES_IN_FLIGHT = 8
PROGRESS_FIELDS = ("progress", "language", "audioDurationSeconds")


def stalled(
    rows: Iterable[TranscriptionJobRow],
    followed: dict[str, Any],
    restarted: dict[str, float],
    now: float,
    stale_seconds: float,
) -> list[str]:
    """The stale running jobs of followed resources whose worker is due for a restart: not
    restarted within the last ``stale_seconds`` (the new pod gets that long to claim it)."""
    return [
        row.id
        for row in rows
        if row.id in followed and now - restarted.get(row.id, float("-inf")) >= stale_seconds
    ]


def progress_changes(shown: dict[str, Any], row: ProgressRow) -> dict[str, Any]:
    """What a resource's status lacks of its running job's row; nothing once the job ended."""
    if row.status.is_final:
        return {}  # the Job's own events settle a finished job
    return {key: value for key, value in progress_status(row).items() if shown.get(key) != value}


@dataclass
class ProgressMirror:
    """The resources of running jobs, and what their status shows of each row."""

    context: OperatorContext
    interval: float
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)  # job id → (ns, name)
    shown: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What the resource's status was last set from (its Job's state): a Job event that
    # observes the same again (most of them: readiness, pod bookkeeping) changes nothing.
    observed: dict[str, Observation] = field(default_factory=dict)
    restarted: dict[str, float] = field(default_factory=dict)  # job id → monotonic time
    _task: asyncio.Task[None] | None = None
    _stall_check_due: float = 0.0

    def follow(
        self,
        job_id: str,
        namespace: str,
        name: str,
        status: dict[str, Any],
        observation: Observation | None = None,
    ) -> None:
        """Copy this job's progress to this resource, whose status shows ``status`` now (set
        from ``observation`` of its Job, when known)."""
        self.resources[job_id] = (namespace, name)
        self.shown[job_id] = {key: status[key] for key in PROGRESS_FIELDS if key in status}
        if observation is not None:
            self.observed[job_id] = observation
        else:
            self.observed.pop(job_id, None)

    def seen_before(self, job_id: str, observation: Observation) -> bool:
        return self.observed.get(job_id) == observation

    def forget(self, job_id: str) -> None:
        self.resources.pop(job_id, None)
        self.shown.pop(job_id, None)
        self.observed.pop(job_id, None)
        self.restarted.pop(job_id, None)

    def start(self) -> None:
        self._task = start_rounds(
            "progress-mirror",
            self.interval,
            self.sync_once,
            "copying progress to the resources failed",
        )

    async def stop(self) -> None:
        await stop_rounds(self._task)

    async def sync_once(self) -> None:
        if not self.resources:
            return
        try:
            rows = await self.context.jobs.progress_of(list(self.resources))
        except AudioTextError:
            return  # the database is away: the next round tries again
        due = list(self._changes(rows))
        gate = asyncio.Semaphore(PATCHES_IN_FLIGHT)

        async def patch(job_id: str, changes: dict[str, Any]) -> None:
            async with gate:
                await self._patch(job_id, changes)

        await asyncio.gather(*(patch(job_id, changes) for job_id, changes in due))
        await self.restart_stalled()

    async def restart_stalled(self) -> None:
        """Delete the pods of followed jobs whose worker stopped sending heartbeats."""
        stale_seconds = self.context.settings.stale_job_seconds
        now = time.monotonic()
        if stale_seconds <= 0 or now < self._stall_check_due:
            return
        self._stall_check_due = now + max(self.interval, stale_seconds / 4)
        try:
            rows = await self.context.jobs.silent_since(utcnow() - timedelta(seconds=stale_seconds))
        except AudioTextError:
            return  # the database is away: no heartbeat could have been recorded either
        for job_id in stalled(rows, self.resources, self.restarted, now, stale_seconds):
            await self._restart(job_id, stale_seconds)

    async def _restart(self, job_id: str, stale_seconds: float) -> None:
        namespace, name = self.resources[job_id]
        cluster = self.context.cluster
        try:
            resource = await cluster.resource(namespace, name)
            live = await cluster.delete_live_pods(namespace, job_name(name))
        except (ApiException, ClientError, OSError) as exc:
            log.warning("could not restart the stalled worker of job %s: %s", job_id, exc)
            return
        self.restarted[job_id] = time.monotonic()
        if not live:
            return
        message = (
            f"no heartbeat from the worker for {stale_seconds:.0f}s; "
            f"deleted its pod {', '.join(live)} so the Job runs it again"
        )
        log.warning("job %s: %s", job_id, message)
        with contextlib.suppress(ApiException, ClientError, OSError):
            await cluster.post_event(resource, k.EVENT_WARNING, k.REASON_WORKER_STALLED, message)

    def _changes(self, rows: Iterable[ProgressRow]) -> Iterable[tuple[str, dict[str, Any]]]:
        for row in rows:
            changes = progress_changes(self.shown.get(row.id, {}), row)
            if changes:
                yield row.id, changes

    async def _patch(self, job_id: str, changes: dict[str, Any]) -> None:
        where = self.resources.get(job_id)
        if where is None:
            return
        namespace, name = where
        try:
            await self.context.cluster.patch_status(namespace, name, changes)
        except ApiException as exc:
            if exc.status == 404:
                self.forget(job_id)
            return
        except (ClientError, OSError):
            return
        self.shown.setdefault(job_id, {}).update(changes)
