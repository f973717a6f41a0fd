"""Thin kopf handlers: read → call a pure builder or status function → create or patch."""

from __future__ import annotations

import logging
import posixpath
import uuid
from typing import Any

import kopf
from aiohttp import ClientError
from kubernetes_asyncio.client.exceptions import ApiException

from audiotext.jobs.errors import AudioTextError, InvalidTransition, JobNotFound
from audiotext.kube import constants as k
from audiotext.operator.builders import build_job, job_name
from audiotext.operator.context import OperatorContext
from audiotext.operator.progress import ProgressMirror
from audiotext.operator.status import (
    Observation,
    cancelled_status,
    desired_status,
    now_iso,
    observe_job,
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
        options={"source": "kubernetes", "resource": name},
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
    **_: Any,
) -> None:
    """Make sure the resource has its database row and its Job (idempotent on replay)."""
    if status.get("phase") in k.FINAL_PHASES:
        return
    context = _context(memo)
    job_id = meta.get("labels", {}).get(k.LABEL_JOB_ID) or status.get("jobId")
    if not job_id:
        job_id = str(uuid.uuid4())  # created with kubectl: the operator records the job
        patch.metadata.labels[k.LABEL_JOB_ID] = job_id
    try:
        await context.jobs.register(job_id, _request_of(dict(spec), name), spec["audio"]["url"])
    except AudioTextError as exc:
        raise kopf.TemporaryError(f"database: {exc.message}", delay=RETRY_DELAY) from exc

    job = build_job(dict(body), job_id, context.settings)
    kopf.adopt(job, owner=body)
    job["metadata"]["labels"][k.LABEL_JOB_ID] = job_id
    try:
        # The response is not turned into a V1Job model: nothing reads it, and the model
        # costs about as much CPU as the rest of the handler (bench/operator_scale.py).
        response: Any = await context.batch.create_namespaced_job(
            str(namespace),
            job,  # type: ignore[arg-type]
            _preload_content=False,
        )
        await response.read()  # read to the end, so the connection goes back to the pool
        response.release()
        if not 200 <= response.status < 300:
            raise ApiException(status=response.status, reason=response.reason)
        kopf.info(
            body, reason=k.REASON_JOB_CREATED, message=f"created Job {job['metadata']['name']}"
        )
    except ApiException as exc:
        if exc.status == 422:
            raise kopf.PermanentError(f"the Job is invalid: {exc.reason}") from exc
        if exc.status != 409:  # 409: an earlier run of this handler made it
            raise kopf.TemporaryError(f"Job not created: {exc.status}", delay=RETRY_DELAY) from exc
    except (ClientError, OSError) as exc:
        raise kopf.TemporaryError(f"API unavailable: {exc}", delay=RETRY_DELAY) from exc
    # Patched only when they differ: a resumed resource usually has them already.
    if status.get("jobId") != job_id:
        patch.status["jobId"] = job_id
    if status.get("jobName") != job["metadata"]["name"]:
        patch.status["jobName"] = job["metadata"]["name"]
    shown = dict(status)
    if not status.get("phase"):
        patch.status["phase"] = k.PHASE_QUEUED if job["spec"]["suspend"] else k.PHASE_PENDING
        patch.status["progress"] = shown["progress"] = 0
        patch.status["attempts"] = 0
    _progress(memo).follow(job_id, str(namespace), name, shown)


@kopf.on.event("batch", "v1", "jobs", labels={k.LABEL_MANAGED_BY: k.MANAGED_BY})
async def job_changed(body: kopf.Body, type: str, memo: kopf.Memo, **_: Any) -> None:
    """A worker Job moved: carry its state to the resource, its events and the database."""
    if type == "DELETED":
        return
    labels = body.get("metadata", {}).get("labels", {})
    name, namespace = labels.get(k.LABEL_RESOURCE), body["metadata"]["namespace"]
    job_id = labels.get(k.LABEL_JOB_ID)
    if not name or not job_id:
        return
    context = _context(memo)
    try:
        resource = await context.objects.get_namespaced_custom_object(
            k.GROUP, k.VERSION, namespace, k.PLURAL, name
        )
    except ApiException as exc:
        if exc.status == 404:
            return  # the resource is gone; garbage collection takes the Job
        raise
    current: dict[str, Any] = dict(resource.get("status") or {})
    if current.get("phase") in k.FINAL_PHASES:
        _progress(memo).forget(job_id)
        return
    message = await _termination_message(context, namespace, body) if _failed(body) else None
    observation = await _settle(context, job_id, observe_job(dict(body), message))
    desired = desired_status(current, observation, now_iso())
    await _copy_row(context, job_id, desired, observation)
    changes = status_changes(current, desired)
    if changes:
        await context.patch_status(namespace, name, changes)
    if observation.phase in k.FINAL_PHASES:
        _progress(memo).forget(job_id)
    else:
        _progress(memo).follow(job_id, namespace, name, desired)
    if current.get("phase") != observation.phase or current.get("attempts") != observation.attempts:
        post = kopf.warn if observation.phase == k.PHASE_FAILED else kopf.info
        post(resource, reason=observation.reason, message=observation.message)
    await _sync_database(context, job_id, observation)


async def _settle(context: OperatorContext, job_id: str, observation: Observation) -> Observation:
    """Only a completed Job is checked against the row: the worker records its own success."""
    if observation.phase != k.PHASE_SUCCEEDED:
        return observation
    try:
        row = await context.jobs.repo.find(job_id)
    except AudioTextError as exc:
        raise kopf.TemporaryError(f"database: {exc.message}", delay=RETRY_DELAY) from exc
    if row is None:
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
        namespace, label_selector=f"job-name={job['metadata']['name']}"
    )
    messages = []
    for pod in sorted(pods.items, key=lambda p: p.metadata.creation_timestamp):
        for container in pod.status.container_statuses or []:
            terminated = container.state.terminated if container.state else None
            if terminated is not None and terminated.message:
                messages.append(terminated.message.strip())
    return messages[-1] if messages else None


async def _copy_row(
    context: OperatorContext, job_id: str, status: dict[str, Any], observation: Observation
) -> None:
    """Progress, language and duration live in the row the worker writes."""
    try:
        row = await context.jobs.repo.find(job_id)
    except AudioTextError:
        return
    if row is None:
        return
    status["progress"] = 100 if observation.phase == k.PHASE_SUCCEEDED else row.progress
    # Pods that were deleted (a disruption) are not counted by the Job; the worker counts runs.
    status["attempts"] = max(observation.attempts, row.attempts)
    if row.language:
        status["language"] = row.language
    if row.audio_duration_seconds is not None:
        status["audioDurationSeconds"] = round(row.audio_duration_seconds, 3)
    if observation.phase == k.PHASE_SUCCEEDED:
        storage = context.jobs.storage
        status["outputs"] = {
            fmt: storage.url_for(transcript_key(job_id, fmt))
            for fmt in ("txt", "json", "srt", "vtt")
        }


async def _sync_database(context: OperatorContext, job_id: str, observation: Observation) -> None:
    """A Job that failed for good fails its row; the worker itself records success.

    A Job that completed without the worker's result is failed too (see ``settle_with_row``),
    so no row is left pending.
    """
    if observation.phase != k.PHASE_FAILED:
        return
    try:
        row = await context.jobs.repo.get(job_id)
        if not row.status.is_final:
            await context.jobs.fail(job_id, observation.message)
    except (InvalidTransition, JobNotFound):
        return
    except AudioTextError as exc:
        raise kopf.TemporaryError(f"database: {exc.message}", delay=RETRY_DELAY) from exc


# A tuple: the annotation key has dots of its own.
@kopf.on.field(*RESOURCE, field=("metadata", "annotations", k.ANNOTATION_CANCEL))
async def cancel(
    body: kopf.Body,
    new: Any,
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
    cancelled = cancelled_status(dict(status), now_iso())
    for key, value in status_changes(dict(status), cancelled).items():
        patch.status[key] = value
    kopf.info(body, reason=k.REASON_CANCELLED, message="cancelled; the Job was deleted")
    job_id = status.get("jobId")
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
