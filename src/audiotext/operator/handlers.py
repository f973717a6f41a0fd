"""Thin kopf handlers: read → call a pure builder or status function → create or patch."""

from __future__ import annotations

import json
import logging
import posixpath
import uuid
from typing import Any

import kopf
from aiohttp import ClientError
from kubernetes_asyncio.client.exceptions import ApiException

from audiotext.config import OUTPUT_FORMATS, requested_formats
from audiotext.db.models import TranscriptionJobRow
from audiotext.jobs.errors import AudioTextError, InvalidTransition, JobNotFound
from audiotext.kube import constants as k
from audiotext.operator.builders import build_job, job_name, owner_of
from audiotext.operator.context import OperatorContext
from audiotext.operator.progress import ProgressMirror
from audiotext.operator.status import (
    Observation,
    cancelled_status,
    desired_status,
    invalid_spec_status,
    now_iso,
    observe_deleted_job,
    observe_job,
    row_final_status,
    settle_with_row,
    status_changes,
)
from audiotext.services.jobs import JobRequest
from audiotext.storage import transcript_key

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


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
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


def _request_of(spec: dict[str, Any], name: str) -> JobRequest:
    url = str(spec["audio"]["url"])
    return JobRequest(
        filename=posixpath.basename(url.rstrip("/")) or name,
        model=spec.get("model") or None,
        language=spec.get("language") or None,
        task="translate" if spec.get("task") == "translate" else "transcribe",
        options={
            "source": "kubernetes",
            "resource": name,
            "output_formats": list(spec.get("outputFormats") or OUTPUT_FORMATS),
        },
    )


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
    request = _request_of(dict(spec), name)
    try:
        row = await context.jobs.register(job_id, request, spec["audio"]["url"])
    except AudioTextError as exc:
        raise kopf.TemporaryError(f"database: {exc.message}", delay=RETRY_DELAY) from exc
    if row.status.is_final:
        # Cancelled (or finished) before its Job was made: a Job now would run for nothing.
        finished = row_final_status(dict(status), row.status.value, row.error_message, now_iso())
        if finished["phase"] == k.PHASE_SUCCEEDED:
            finished["outputs"] = _outputs(context, job_id, requested_formats(request.options))
        _patch_status(patch, status, finished)
        return

    job = build_job(dict(body), job_id, context.settings)
    kopf.adopt(job, owner=body)
    job["metadata"]["labels"][k.LABEL_JOB_ID] = job_id
    try:
        await _create_job(context, str(namespace), job)
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
    shown = dict(status)
    first = None
    if not status.get("phase"):
        first = observe_job(job)  # the new Job as it is: queued (suspended) or pending
        patch.status["phase"] = first.phase
        patch.status["progress"] = shown["progress"] = 0
        patch.status["attempts"] = 0
    _progress(memo).follow(job_id, str(namespace), name, shown, first)


def _patch_status(patch: kopf.Patch, current: kopf.Status, desired: dict[str, Any]) -> None:
    for key, value in status_changes(dict(current), desired).items():
        patch.status[key] = value


async def _create_job(context: OperatorContext, namespace: str, job: dict[str, Any]) -> None:
    """Create the Job; a refusal raises ApiException with the API server's own message."""
    # The response is not turned into a V1Job model: nothing reads it, and the model
    # costs about as much CPU as the rest of the handler (bench/operator_scale.py).
    response: Any = await context.batch.create_namespaced_job(
        namespace,
        job,  # type: ignore[arg-type]
        _preload_content=False,
    )
    data = await response.read()  # read to the end, so the connection goes back to the pool
    response.release()
    if not 200 <= response.status < 300:
        raise ApiException(status=response.status, reason=_api_message(data) or response.reason)


def _api_message(data: bytes) -> str | None:
    try:
        message = json.loads(data).get("message")
    except (ValueError, AttributeError):
        return None
    return str(message) if message else None


async def _refused(
    context: OperatorContext,
    body: kopf.Body,
    status: kopf.Status,
    patch: kopf.Patch,
    job_id: str,
    message: str,
) -> None:
    """The API server refused the Job (422): retrying cannot help, so resource and row fail."""
    failed = invalid_spec_status(dict(status), message, now_iso())
    _patch_status(patch, status, failed)
    kopf.warn(body, reason=k.REASON_INVALID_SPEC, message=failed["message"])
    await _fail_row(context, job_id, failed["message"])


async def _check_owner(
    context: OperatorContext, namespace: str, name: str, resource: kopf.Body, *, first: bool
) -> None:
    """A Job of that name exists: an earlier run of this handler made it, or it is another's."""
    try:
        existing = await context.batch.read_namespaced_job(name, namespace)
    except ApiException as exc:
        # 404: gone meanwhile (an earlier resource's, being collected); try creating it again.
        raise kopf.TemporaryError(f"Job {name} not readable: {exc.status}", delay=1) from exc
    owner = owner_of(context.api.sanitize_for_serialization(existing))
    if owner is None or owner[1] != resource["metadata"]["uid"]:
        message = (
            f"Job {name} belongs to another resource (an earlier one of this name?); "
            "waiting for it to go"
        )
        if first:  # once, not on every retry
            kopf.warn(resource, reason=k.REASON_JOB_NAME_TAKEN, message=message)
        raise kopf.TemporaryError(message, delay=RETRY_DELAY)


def _cancelling(resource: dict[str, Any]) -> bool:
    """A cancel or the resource's own deletion: either takes its Job away on purpose."""
    meta = resource.get("metadata") or {}
    cancel = (meta.get("annotations") or {}).get(k.ANNOTATION_CANCEL) == "true"
    return cancel or bool(meta.get("deletionTimestamp"))


@kopf.on.event("batch", "v1", "jobs", labels={k.LABEL_MANAGED_BY: k.MANAGED_BY})
async def job_changed(body: kopf.Body, type: str, memo: kopf.Memo, **_: Any) -> None:
    """A worker Job moved (or went): carry its state to the resource, its events and the row."""
    owner = owner_of(dict(body))
    namespace = body["metadata"]["namespace"]
    job_id = body.get("metadata", {}).get("labels", {}).get(k.LABEL_JOB_ID)
    if owner is None or not job_id:
        return
    name, uid = owner
    failed = _failed(body)
    # A failed Job's observation needs its pod's termination message: read further down.
    plain = None if type == "DELETED" or failed else observe_job(dict(body))
    if plain is not None and _progress(memo).seen_before(job_id, plain):
        return  # readiness, pod bookkeeping: nothing the resource shows has moved
    context = _context(memo)
    try:
        resource = await context.objects.get_namespaced_custom_object(
            k.GROUP, k.VERSION, namespace, k.PLURAL, name
        )
    except ApiException as exc:
        if exc.status == 404:
            return  # the resource is gone; garbage collection takes the Job
        raise
    if resource["metadata"]["uid"] != uid:
        return  # a Job of an earlier resource with this name
    current: dict[str, Any] = dict(resource.get("status") or {})
    if current.get("phase") in k.FINAL_PHASES:
        _progress(memo).forget(job_id)
        return
    if type == "DELETED":
        if _cancelling(resource):
            return  # the cancel and delete handlers record those
        observed = observe_deleted_job(dict(body), now_iso())
    elif plain is not None:
        observed = plain
    else:
        message = await _termination_message(context, namespace, body)
        observed = observe_job(dict(body), message)
    row = await _row(context, job_id, observed)
    observation = _settle(observed, row)
    desired = desired_status(current, observation, now_iso())
    if row is not None:
        _copy_row(row, desired, observation, context)
    changes = status_changes(current, desired)
    if changes:
        await context.patch_status(namespace, name, changes)
    if observation.phase in k.FINAL_PHASES:
        _progress(memo).forget(job_id)
    else:
        _progress(memo).follow(job_id, namespace, name, desired, observed)
    if current.get("phase") != observation.phase or current.get("attempts") != observation.attempts:
        post = kopf.warn if observation.phase == k.PHASE_FAILED else kopf.info
        post(resource, reason=observation.reason, message=observation.message)
    if observation.phase == k.PHASE_FAILED:
        # A Job that failed for good fails its row; the worker itself records success.
        # A Job that completed without the worker's result is failed too (``settle_with_row``).
        await _fail_row(context, job_id, observation.message)


async def _row(
    context: OperatorContext, job_id: str, observation: Observation
) -> TranscriptionJobRow | None:
    """The job's row, read once per Job event; None when it is missing, or when the database
    is away and the Job did not complete (only a completed Job needs the row to settle)."""
    try:
        return await context.jobs.repo.find(job_id)
    except AudioTextError as exc:
        if observation.phase == k.PHASE_SUCCEEDED:
            raise kopf.TemporaryError(f"database: {exc.message}", delay=RETRY_DELAY) from exc
        return None


def _settle(observation: Observation, row: TranscriptionJobRow | None) -> Observation:
    """Only a completed Job is checked against the row: the worker records its own success."""
    if observation.phase != k.PHASE_SUCCEEDED or row is None:
        return observation
    return settle_with_row(observation, str(row.status), row.error_message)


def _failed(job: kopf.Body) -> bool:
    return any(
        c.get("type") in ("Failed", "FailureTarget") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


async def _termination_message(
    context: OperatorContext, namespace: str, job: kopf.Body
) -> str | None:
    """What the last worker pod said when it stopped (its /dev/termination-log)."""
    pods = await context.core.list_namespaced_pod(
        namespace, label_selector=f"{k.JOB_NAME_LABEL}={job['metadata']['name']}"
    )
    messages = []
    for pod in sorted(pods.items, key=lambda p: p.metadata.creation_timestamp):
        for container in pod.status.container_statuses or []:
            terminated = container.state.terminated if container.state else None
            if terminated is not None and terminated.message:
                messages.append(terminated.message.strip())
    return messages[-1] if messages else None


def _copy_row(
    row: TranscriptionJobRow,
    status: dict[str, Any],
    observation: Observation,
    context: OperatorContext,
) -> None:
    """Progress, language and duration live in the row the worker writes."""
    status["progress"] = 100 if observation.phase == k.PHASE_SUCCEEDED else row.progress
    # Pods that were deleted (a disruption) are not counted by the Job; the worker counts runs.
    status["attempts"] = max(observation.attempts, row.attempts)
    if row.language:
        status["language"] = row.language
    if row.audio_duration_seconds is not None:
        status["audioDurationSeconds"] = round(row.audio_duration_seconds, 3)
    if observation.phase == k.PHASE_SUCCEEDED:
        status["outputs"] = _outputs(context, row.id, requested_formats(row.options))


def _outputs(context: OperatorContext, job_id: str, formats: tuple[str, ...]) -> dict[str, str]:
    """format → URL of each artifact the resource asked for (its outputFormats)."""
    storage = context.jobs.storage
    return {fmt: storage.url_for(transcript_key(job_id, fmt)) for fmt in formats}


async def _fail_row(context: OperatorContext, job_id: str, message: str) -> None:
    """Fail the row unless it is final already (so no row is left pending)."""
    try:
        row = await context.jobs.repo.get(job_id)
        if not row.status.is_final:
            await context.jobs.fail(job_id, message)
    except (InvalidTransition, JobNotFound):
        return
    except AudioTextError as exc:
        raise kopf.TemporaryError(f"database: {exc.message}", delay=RETRY_DELAY) from exc


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
    """A cancel request: the Job and its pods go; resource and row say cancelled."""
    if new != "true" or status.get("phase") in k.FINAL_PHASES:
        return
    context = _context(memo)
    try:
        await context.batch.delete_namespaced_job(
            job_name(name), str(namespace), propagation_policy="Background"
        )
    except ApiException as exc:
        if exc.status != 404:
            raise kopf.TemporaryError(f"Job not deleted: {exc.status}", delay=RETRY_DELAY) from exc
    _patch_status(patch, status, cancelled_status(dict(status), now_iso()))
    kopf.info(body, reason=k.REASON_CANCELLED, message="cancelled; the Job was deleted")
    job_id = _job_id_of(meta, status)
    if job_id:
        _progress(memo).forget(job_id)
        try:
            await context.jobs.cancel(job_id)
        except (InvalidTransition, JobNotFound):
            pass  # the gateway cancelled the row already


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
    try:
        await _context(memo).jobs.cancel(job_id)
    except (InvalidTransition, JobNotFound):
        pass  # final already, or never recorded
    except AudioTextError as exc:
        raise kopf.TemporaryError(f"database: {exc.message}", delay=RETRY_DELAY) from exc
