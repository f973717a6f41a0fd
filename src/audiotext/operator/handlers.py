"""Thin kopf handlers: read → call a pure builder or status function → create or patch.

Kubernetes I/O lives in ``cluster``, decisions in ``builders`` and ``status``, and what a
worker Job's events mean for the row and the resource in ``job_events``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, cast

import kopf
from aiohttp import ClientError
from kubernetes_asyncio.client.exceptions import ApiException

from audiotext.jobs.choices import requested_formats
from audiotext.jobs.errors import AudioTextError, InvalidTransition, JobNotFound
from audiotext.kube import constants as k
from audiotext.operator.builders import build_job, job_name, owner_of, request_of
from audiotext.operator.context import OperatorContext
from audiotext.operator.job_events import JobEvent, JobEventRecorder
from audiotext.operator.progress import ProgressMirror
from audiotext.operator.queueing import owning_job, show_wait, waiting_reason
from audiotext.operator.status import (
    cancelled_status,
    invalid_spec_status,
    job_failed,
    now_iso,
    observe_deleted_job,
    observe_job,
    row_final_status,
    status_changes,
)
from audiotext.sharding import jobs_shards

log = logging.getLogger(__name__)
RESOURCE = (k.GROUP, k.VERSION, k.PLURAL)
RETRY_DELAY = 5
PROGRESS_INTERVAL = 2.0


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Every operator-wide setting in one place."""
    settings.peering.standalone = True
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30
    # Handler progress in annotations: the resource's status schema stays ours alone.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=k.KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=k.KOPF_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = k.FINALIZER
    memo.context = await OperatorContext.open(memo.settings)
    memo.progress = ProgressMirror(memo.context, PROGRESS_INTERVAL)
    memo.progress.start()
    memo.job_events = JobEventRecorder(memo.context, memo.progress, RETRY_DELAY)
    memo.job_events.start()


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    await memo.job_events.stop()
    await memo.progress.stop()
    await memo.context.close()


@kopf.on.login()
async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return await kopf.login_via_async_client(**kwargs)


def _progress(memo: kopf.Memo) -> ProgressMirror:
    progress: ProgressMirror = memo.progress
    return progress


def _context(memo: kopf.Memo) -> OperatorContext:
    context: OperatorContext = memo.context
    return context


def _job_events(memo: kopf.Memo) -> JobEventRecorder:
    recorder: JobEventRecorder = memo.job_events
    return recorder


def _job_id_of(meta: kopf.Meta, status: kopf.Status) -> str | None:
    job_id = meta.get("labels", {}).get(k.LABEL_JOB_ID) or status.get("jobId")
    return str(job_id) if job_id else None


@kopf.on.create(*RESOURCE)
@kopf.on.resume(*RESOURCE)
async def reconcile(
    body: kopf.Body,
    meta: kopf.Meta,
    spec: kopf.Spec,
    status: kopf.Status,
    name: str,
    namespace: str | None,
    patch: kopf.Patch,
    memo: kopf.Memo,
    retry: int,
    **_: Any,
) -> None:
    """Make sure the resource has its database row and its Job (idempotent on replay)."""
    if status.get("phase") in k.FINAL_PHASES:
        return
    context = _context(memo)
    job_id = _job_id_of(meta, status)
    if not job_id:
        job_id = str(uuid.uuid4())  # created with kubectl: the operator records the job
        patch.metadata.labels[k.LABEL_JOB_ID] = job_id
    if status.get("jobId") != job_id:
        patch.status["jobId"] = job_id
    request = request_of(dict(spec), name)
    try:
        row = await context.jobs.register(job_id, request, spec["audio"]["url"])
    except AudioTextError as exc:
        raise kopf.TemporaryError(f"database: {exc.message}", delay=RETRY_DELAY) from exc
    if row.status.is_final:
        # Cancelled (or finished) before its Job was made: a Job now would run for nothing.
        finished = row_final_status(dict(status), row.status.value, row.error_message, now_iso())
        if finished["phase"] == k.PHASE_SUCCEEDED:
            formats = requested_formats(request.options)
            finished["outputs"] = context.jobs.output_urls(job_id, formats)
        _patch_status(patch, status, finished)
        return

    settings = context.settings
    shards = jobs_shards(row.options, row.audio_duration_seconds, settings.shard_seconds)
    parallel = ((row.options or {}).get("sharding") or {}).get("max_parallel")
    job = build_job(dict(body), job_id, settings, shards, parallel)
    kopf.adopt(job, owner=body)
    job["metadata"]["labels"][k.LABEL_JOB_ID] = job_id
    shown = dict(status)
    first = None
    if not status.get("phase"):
        # Written before the Job exists: kopf applies the handler's patch only after it
        # returns, when the new Job's own events may already have moved the phase on.
        first = observe_job(job)  # the new Job as it is: queued (suspended) or pending
        shown.update(phase=first.phase, progress=0, attempts=0)
        await _write_status(context, str(namespace), name, shown)
    try:
        await context.cluster.create_job(str(namespace), job)
        kopf.info(
            body, reason=k.REASON_JOB_CREATED, message=f"created Job {job['metadata']['name']}"
        )
    except ApiException as exc:
        if exc.status == 422:
            await _refused(context, body, status, patch, job_id, str(exc.reason))
            return
        if exc.status != 409:
            raise kopf.TemporaryError(f"Job not created: {exc.status}", delay=RETRY_DELAY) from exc
        await _check_owner(context, str(namespace), job["metadata"]["name"], body, first=not retry)
    except (ClientError, OSError) as exc:
        raise kopf.TemporaryError(f"API unavailable: {exc}", delay=RETRY_DELAY) from exc
    # Patched only when they differ: a resumed resource usually has them already.
    if status.get("jobName") != job["metadata"]["name"]:
        patch.status["jobName"] = job["metadata"]["name"]
    if status.get("model") != row.model:
        patch.status["model"] = row.model  # the MODEL column, also when spec.model is empty
    _progress(memo).follow(job_id, str(namespace), name, shown, first)


async def _write_status(
    context: OperatorContext, namespace: str, name: str, status: dict[str, Any]
) -> None:
    changes = {key: status[key] for key in ("phase", "progress", "attempts")}
    try:
        await context.cluster.patch_status(namespace, name, changes)
    except ApiException as exc:
        raise kopf.TemporaryError(f"status not written: {exc.status}", delay=RETRY_DELAY) from exc
    except (ClientError, OSError) as exc:
        raise kopf.TemporaryError(f"API unavailable: {exc}", delay=RETRY_DELAY) from exc


def _patch_status(patch: kopf.Patch, current: kopf.Status, desired: dict[str, Any]) -> None:
    for key, value in status_changes(dict(current), desired).items():
        patch.status[key] = value


async def _refused(
    context: OperatorContext,
    body: kopf.Body,
    status: kopf.Status,
    patch: kopf.Patch,
    job_id: str,
    message: str,
) -> None:
    """The API server refused the Job (422): retrying cannot help, so row and resource fail
    (the row first: while the database is away, kopf retries this handler)."""
    failed = invalid_spec_status(dict(status), message, now_iso())
    await _fail_row(context, job_id, failed["message"])
    _patch_status(patch, status, failed)
    kopf.warn(body, reason=k.REASON_INVALID_SPEC, message=failed["message"])


async def _check_owner(
    context: OperatorContext, namespace: str, name: str, resource: kopf.Body, *, first: bool
) -> None:
    """A Job of that name exists: an earlier run of this handler made it, or it is another's."""
    try:
        owner = await context.cluster.job_owner(namespace, name)
    except ApiException as exc:
        # 404: gone meanwhile (an earlier resource's, being collected); try creating it again.
        raise kopf.TemporaryError(f"Job {name} not readable: {exc.status}", delay=1) from exc
    if owner is None or owner[1] != resource["metadata"]["uid"]:
        message = (
            f"Job {name} belongs to another resource (an earlier one of this name?); "
            "waiting for it to go"
        )
        if first:  # once, not on every retry
            kopf.warn(resource, reason=k.REASON_JOB_NAME_TAKEN, message=message)
        raise kopf.TemporaryError(message, delay=RETRY_DELAY)


async def _fail_row(context: OperatorContext, job_id: str, message: str) -> None:
    try:
        await context.jobs.fail_unfinished(job_id, message)
    except AudioTextError as exc:
        raise kopf.TemporaryError(f"database: {exc.message}", delay=RETRY_DELAY) from exc


@kopf.on.event("batch", "v1", "jobs", labels={k.LABEL_MANAGED_BY: k.MANAGED_BY})
async def job_changed(body: kopf.Body, type: str, memo: kopf.Memo, **_: Any) -> None:
    """A worker Job moved (or went): carry its state to the row, the resource and its events."""
    owner = owner_of(dict(body))
    job_id = body.get("metadata", {}).get("labels", {}).get(k.LABEL_JOB_ID)
    if owner is None or not job_id:
        return
    namespace = body["metadata"]["namespace"]
    deleted = type == "DELETED"
    if deleted:
        observed = observe_deleted_job(dict(body), now_iso())
    elif job_failed(dict(body)):
        # A failed Job's observation says what its last pod said when it stopped.
        context = _context(memo)
        try:
            message = await context.cluster.termination_message(namespace, body.metadata.name)
        except (ApiException, ClientError, OSError):
            message = None  # the Job's own condition message says enough
        observed = observe_job(dict(body), message)
    else:
        observed = observe_job(dict(body))
        if _progress(memo).seen_before(job_id, observed):
            return  # readiness, pod bookkeeping: nothing the resource shows has moved
    uid = str(body.metadata.get("uid") or "")
    event = JobEvent(
        namespace, owner[0], owner[1], str(job_id), observed, deleted=deleted, job_uid=uid
    )
    await _job_events(memo).record(event, _post_with_kopf)


@kopf.on.event(k.KUEUE_GROUP, k.KUEUE_VERSION, k.KUEUE_WORKLOADS)
async def workload_changed(body: kopf.Body, type: str, memo: kopf.Memo, **_: Any) -> None:
    """Kueue moved a Workload: the Queued resource of its Job shows why it still waits."""
    workload = dict(body)
    reason, job = waiting_reason(workload), owning_job(workload)
    if type == "DELETED" or reason is None or job is None:
        return
    await show_wait(_context(memo), str(body["metadata"]["namespace"]), job, reason)


async def _post_with_kopf(resource: dict[str, Any], type_: str, reason: str, message: str) -> None:
    kopf.event(cast(kopf.Body, resource), type=type_, reason=reason, message=message)


# A tuple: the annotation key has dots of its own.
@kopf.on.field(*RESOURCE, field=("metadata", "annotations", k.ANNOTATION_CANCEL))
async def cancel(
    body: kopf.Body,
    new: Any,
    meta: kopf.Meta,
    name: str,
    namespace: str | None,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """A cancel request: the Job and its pods go; row and resource say cancelled."""
    if new != "true" or status.get("phase") in k.FINAL_PHASES:
        return
    context = _context(memo)
    try:
        await context.cluster.delete_job(str(namespace), job_name(name))
    except ApiException as exc:
        raise kopf.TemporaryError(f"Job not deleted: {exc.status}", delay=RETRY_DELAY) from exc
    job_id = _job_id_of(meta, status)
    if job_id:
        _progress(memo).forget(job_id)
        await _cancel_row(context, job_id)
    _patch_status(patch, status, cancelled_status(dict(status), now_iso()))
    kopf.info(body, reason=k.REASON_CANCELLED, message="cancelled; the Job was deleted")


def _unfinished(status: kopf.Status, **_: Any) -> bool:
    return status.get("phase") not in k.FINAL_PHASES


# Not optional: kopf keeps its finalizer on a resource while this filter matches (until the
# resource is final), so deleting an unfinished one always comes here first.
@kopf.on.delete(*RESOURCE, when=_unfinished)
async def deleted(meta: kopf.Meta, status: kopf.Status, memo: kopf.Memo, **_: Any) -> None:
    """A resource deleted before it finished: its row is cancelled; its Job goes with it."""
    job_id = _job_id_of(meta, status)
    if not job_id:
        return
    _progress(memo).forget(job_id)
    await _cancel_row(_context(memo), job_id)


async def _cancel_row(context: OperatorContext, job_id: str) -> None:
    """Cancel the row (its webhook is sent); one that is final already, or was never recorded,
    stays as it is."""
    try:
        await context.jobs.cancel(job_id)
    except (InvalidTransition, JobNotFound):
        pass  # the gateway cancelled it already, or it finished
    except AudioTextError as exc:
        raise kopf.TemporaryError(f"database: {exc.message}", delay=RETRY_DELAY) from exc
