"""Kueue's word on a waiting job: why its Workload is not admitted, on the resource.

A Job that Kueue holds back stays suspended and sends no news; its Workload says why (no
quota left, preempted by a more urgent job). That reason becomes the Queued resource's
``status.message`` and an event, so ``kubectl get tj -o wide`` and ``kubectl describe`` tell
a platform team what each job waits for.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import ClientError
from kubernetes_asyncio.client.exceptions import ApiException

from audiotext.jobs.errors import AudioTextError
from audiotext.kube import constants as k
from audiotext.operator.context import OperatorContext

log = logging.getLogger(__name__)

Body = dict[str, Any]


def waiting_reason(workload: Body) -> str | None:
    """Why Kueue holds a Workload back, in its words; None when it is admitted or has not
    said yet."""
    conditions = {
        str(c.get("type")): c for c in (workload.get("status") or {}).get("conditions") or []
    }

    def said(kind: str, status: str) -> str | None:
        condition = conditions.get(kind) or {}
        message = str(condition.get("message") or "").strip()
        return message if condition.get("status") == status and message else None

    if any((conditions.get(c) or {}).get("status") == "True" for c in ("Admitted", "Finished")):
        return None
    reserved = said("QuotaReserved", "False")
    evicted = said("Evicted", "True")  # preempted, say: it waits again
    if evicted and reserved:
        return f"{evicted}; {reserved}"
    return evicted or reserved


def owning_job(workload: Body) -> str | None:
    """The name of the batch/v1 Job a Workload stands for."""
    for ref in (workload.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "Job" and ref.get("apiVersion") == "batch/v1":
            return str(ref["name"])
    return None


def queued_changes(status: Body, reason: str) -> Body:
    """What a resource's status needs to show Kueue's reason: only while it is Queued."""
    if status.get("phase") != k.PHASE_QUEUED or status.get("message") == reason:
        return {}
    return {"message": reason}


async def show_wait(context: OperatorContext, namespace: str, job: str, reason: str) -> None:
    """Put Kueue's reason on the Queued resource that owns the Job ``job`` (with an event)
    and on its job's row."""
    cluster = context.cluster
    try:
        owner = await cluster.job_owner(namespace, job)
        if owner is None:
            return
        resource = await cluster.resource(namespace, owner[0])
        if resource["metadata"]["uid"] != owner[1]:
            return  # a Job of an earlier resource of this name
        changes = queued_changes(dict(resource.get("status") or {}), reason)
        if not changes:
            return
        await cluster.patch_status(namespace, owner[0], changes)
        await cluster.post_event(resource, k.EVENT_NORMAL, k.REASON_QUEUED, reason)
        job_id = (resource.get("status") or {}).get("jobId")
        if job_id:
            await context.jobs.mark_queued(str(job_id), reason)
    except ApiException as exc:
        if exc.status != 404:  # a Job or resource gone meanwhile has nothing to show
            log.warning("job %s: Kueue's reason not shown: %s %s", job, exc.status, exc.reason)
    except (ClientError, OSError) as exc:
        log.warning("job %s: Kueue's reason not shown: %s", job, exc)
    except AudioTextError as exc:
        log.warning("job %s: Kueue's reason not recorded: %s", job, exc.message)
