"""What a worker Job says, carried to the job's row, its resource and the resource's events.

kopf does not retry an event handler (it logs the error and drops the event), and a Job that
has finished sends no further event. So an event that could not be recorded because the
database or the API server was away is kept here and recorded again every few seconds until
it is: no row stays ``processing`` because PostgreSQL was down when its Job ended. The row is
always written before the resource, so a resource that says Failed has a failed row (and the
job service, which fails it, sends its webhook once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import ClientError
from kubernetes_asyncio.client.exceptions import ApiException

from audiotext.db.models import TranscriptionJobRow
from audiotext.jobs.choices import requested_formats
from audiotext.jobs.errors import AudioTextError
from audiotext.kube import constants as k
from audiotext.operator.context import OperatorContext
from audiotext.operator.progress import ProgressMirror
from audiotext.operator.queueing import waiting_reason
from audiotext.operator.rounds import start_rounds, stop_rounds
from audiotext.operator.status import (
    Observation,
    cancelling,
    desired_status,
    now_iso,
    settle,
    status_changes,
    with_row,
)
from audiotext.operator.stitching import failed_shards_message, record_shards

log = logging.getLogger(__name__)

Body = dict[str, Any]
# (resource, event type, reason, message): kopf's poster inside a handler, the API outside.
EventPoster = Callable[[Body, str, str, str], Awaitable[None]]


@dataclass(frozen=True)
class JobEvent:
    """One event of a worker Job, reduced to what recording it needs (and kept for a retry)."""

    namespace: str
    name: str  # of the TranscriptionJob that owns the Job
    uid: str  # of that TranscriptionJob: a Job of an earlier one of this name is not its
    job_id: str
    observed: Observation
    deleted: bool = False
    job_uid: str = ""  # of the Job itself: its Kueue Workload carries it


class RecordLater(Exception):
    """A backend was away: the event is recorded again later."""


@dataclass
class JobEventRecorder:
    context: OperatorContext
    progress: ProgressMirror
    retry_seconds: float
    pending: dict[str, JobEvent] = field(default_factory=dict)  # job id → its latest event
    _task: asyncio.Task[None] | None = None

    async def record(self, event: JobEvent, post: EventPoster) -> None:
        """Record an event now, or keep it for a retry when a backend is away."""
        self.pending.pop(event.job_id, None)  # a newer event of the job stands for any older
        try:
            await self._record(event, post)
        except RecordLater as exc:
            log.warning(
                "job %s: %s; recording its Job's state again in %.0fs",
                event.job_id,
                exc,
                self.retry_seconds,
            )
            self.pending.setdefault(event.job_id, event)

    async def retry_pending(self) -> None:
        for event in list(self.pending.values()):
            if self.pending.get(event.job_id) is event:  # not superseded meanwhile
                await self.record(event, self.context.cluster.post_event)

    def start(self) -> None:
        self._task = start_rounds(
            "job-event-retries",
            self.retry_seconds,
            self.retry_pending,
            "recording Job events again failed",
        )

    async def stop(self) -> None:
        await stop_rounds(self._task)

    async def _record(self, event: JobEvent, post: EventPoster) -> None:
        resource = await self._resource(event)
        if resource is None:
            return
        current: Body = dict(resource.get("status") or {})
        if current.get("phase") in k.FINAL_PHASES:
            self.progress.forget(event.job_id)
            return
        if event.deleted and cancelling(resource):
            return  # the cancel and delete handlers record those
        row = await self._row(event)
        observed = event.observed
        if row is not None and observed.shards:
            try:
                row = await record_shards(self.context.jobs, row, observed)
            except AudioTextError as exc:
                raise RecordLater(f"shards not recorded: {exc.message}") from exc
            default = self.context.settings.shard_seconds
            if row is not None and observed.phase == k.PHASE_FAILED:
                observed = replace(observed, message=failed_shards_message(row, observed, default))
        observation = await self._with_kueues_reason(event, settle(observed, row))
        if observation.phase == k.PHASE_FAILED:
            # A Job that failed for good (or completed without the worker's result) fails its
            # row, before the resource says so; the worker itself records success.
            try:
                await self.context.jobs.fail_unfinished(event.job_id, observation.message)
            except AudioTextError as exc:
                raise RecordLater(f"database: {exc.message}") from exc
        desired = desired_status(current, observation, now_iso())
        if row is not None:
            outputs = self.context.jobs.output_urls(row.id, requested_formats(row.options))
            desired = with_row(desired, row, observation, outputs)
        if not await self._patch(event, status_changes(current, desired)):
            return
        if observation.final:
            self.progress.forget(event.job_id)
        else:
            self.progress.follow(event.job_id, event.namespace, event.name, desired, event.observed)
        if current.get("phase") != observation.phase or current.get("attempts") != (
            observation.attempts
        ):
            failed = observation.phase == k.PHASE_FAILED
            type_ = k.EVENT_WARNING if failed else k.EVENT_NORMAL
            with contextlib.suppress(ApiException, ClientError, OSError):
                await post(resource, type_, observation.reason, observation.message)

    async def _with_kueues_reason(self, event: JobEvent, observation: Observation) -> Observation:
        """A Job that goes back to waiting (queued, preempted) says why in Kueue's words."""
        if observation.phase != k.PHASE_QUEUED or not event.job_uid:
            return observation
        try:
            workload = await self.context.cluster.workload_of(event.namespace, event.job_uid)
        except (ApiException, ClientError, OSError):
            return observation  # the Workload's own events say it later
        reason = waiting_reason(workload) if workload else None
        return replace(observation, message=reason) if reason else observation

    async def _resource(self, event: JobEvent) -> Body | None:
        """The Job's TranscriptionJob; None when it is gone, or is another of the same name."""
        try:
            resource = await self.context.cluster.resource(event.namespace, event.name)
        except ApiException as exc:
            if exc.status == 404:
                return None  # the resource is gone; garbage collection takes the Job
            raise RecordLater(f"resource not readable: {exc.status} {exc.reason}") from exc
        except (ClientError, OSError) as exc:
            raise RecordLater(f"API server unavailable: {exc}") from exc
        return resource if resource["metadata"]["uid"] == event.uid else None

    async def _row(self, event: JobEvent) -> TranscriptionJobRow | None:
        """The job's row; None when it is missing, or when the database is away and the Job
        is still running (its progress can wait; a final state cannot)."""
        try:
            return await self.context.jobs.find(event.job_id)
        except AudioTextError as exc:
            if event.observed.final:
                raise RecordLater(f"database: {exc.message}") from exc
            return None

    async def _patch(self, event: JobEvent, changes: Body) -> bool:
        """Patch the resource's status; False when the resource went meanwhile."""
        if not changes:
            return True
        try:
            await self.context.cluster.patch_status(event.namespace, event.name, changes)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise RecordLater(f"status not patched: {exc.status} {exc.reason}") from exc
        except (ClientError, OSError) as exc:
            raise RecordLater(f"API server unavailable: {exc}") from exc
        return True
