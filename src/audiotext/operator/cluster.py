"""The operator's Kubernetes I/O: every read and write of Jobs, pods, resources and events.

Handlers decide (with the pure ``builders`` and ``status``); this module only talks to the API
server. Refusals come back as ``ApiException`` with the API server's own message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from audiotext.kube import constants as k
from audiotext.operator.builders import owner_of

Body = dict[str, Any]

# Pod phases of a worker that may still be holding its job.
LIVE_POD_PHASES = frozenset({"Pending", "Running"})


class OperatorCluster:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)
        self.objects = client.CustomObjectsApi(api)

    # --- TranscriptionJobs -----------------------------------------------------------------
    async def resource(self, namespace: str, name: str) -> Body:
        found: Body = await self.objects.get_namespaced_custom_object(
            k.GROUP, k.VERSION, namespace, k.PLURAL, name
        )
        return found

    async def patch_status(self, namespace: str, name: str, changes: Body) -> None:
        """Merge ``changes`` into a TranscriptionJob's status subresource."""
        await self.objects.patch_namespaced_custom_object_status(  # type: ignore[call-arg]
            k.GROUP,
            k.VERSION,
            namespace,
            k.PLURAL,
            name,
            {"status": changes},
            _content_type=k.MERGE_PATCH,
        )

    async def post_event(self, resource: Body, type_: str, reason: str, message: str) -> None:
        """An event on a resource, from outside a kopf handler (whose kopf.event needs the
        handler's context)."""
        meta = resource["metadata"]
        now = datetime.now(UTC).isoformat()
        await self.core.create_namespaced_event(  # a plain dict body is sent as it is
            meta["namespace"],
            {  # type: ignore[arg-type]
                "metadata": {"generateName": f"{meta['name']}."},
                "involvedObject": {
                    "apiVersion": resource["apiVersion"],
                    "kind": resource["kind"],
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                },
                "type": type_,
                "reason": reason,
                "message": message,
                "source": {"component": "audiotext-operator"},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )

    # --- Jobs ------------------------------------------------------------------------------
    async def create_job(self, namespace: str, job: Body) -> None:
        """Create the Job; a refusal raises ApiException with the API server's own message."""
        # The response is not turned into a V1Job model: nothing reads it, and the model
        # costs about as much CPU as the rest of the handler (bench/operator_scale.py).
        response: Any = await self.batch.create_namespaced_job(
            namespace,
            job,  # type: ignore[arg-type]
            _preload_content=False,
        )
        data = await response.read()  # read to the end, so the connection goes back to the pool
        response.release()
        if not 200 <= response.status < 300:
            raise ApiException(status=response.status, reason=_api_message(data) or response.reason)

    async def job_owner(self, namespace: str, name: str) -> tuple[str, str] | None:
        """The name and uid of the TranscriptionJob that owns the Job ``name``."""
        existing = await self.batch.read_namespaced_job(name, namespace)
        return owner_of(self.api.sanitize_for_serialization(existing))

    async def workload_of(self, namespace: str, job_uid: str) -> Body | None:
        """Kueue's Workload of a Job; None where there is none (or no Kueue at all)."""
        try:
            found: Body = await self.objects.list_namespaced_custom_object(
                k.KUEUE_GROUP,
                k.KUEUE_VERSION,
                namespace,
                k.KUEUE_WORKLOADS,
                label_selector=f"{k.KUEUE_JOB_UID_LABEL}={job_uid}",
            )
        except ApiException as exc:
            if exc.status in (403, 404):
                return None
            raise
        items: list[Body] = found.get("items") or []
        return items[0] if items else None

    async def delete_job(self, namespace: str, name: str) -> None:
        """Delete a Job and (in the background) its pods; one that is gone already is fine."""
        try:
            await self.batch.delete_namespaced_job(name, namespace, propagation_policy="Background")
        except ApiException as exc:
            if exc.status != 404:
                raise

    # --- pods ------------------------------------------------------------------------------
    async def termination_message(self, namespace: str, job_name: str) -> str | None:
        """What the last worker pod of a Job said when it stopped (its /dev/termination-log)."""
        pods = await self.core.list_namespaced_pod(
            namespace, label_selector=f"{k.JOB_NAME_LABEL}={job_name}"
        )
        messages = []
        for pod in sorted(pods.items, key=lambda p: p.metadata.creation_timestamp):
            for container in pod.status.container_statuses or []:
                terminated = container.state.terminated if container.state else None
                if terminated is not None and terminated.message:
                    messages.append(terminated.message.strip())
        return messages[-1] if messages else None

    async def delete_live_pods(self, namespace: str, job_name: str) -> list[str]:
        """Delete the pods of a Job that may still hold its job, at once; their names."""
        pods = await self.core.list_namespaced_pod(
            namespace, label_selector=f"{k.JOB_NAME_LABEL}={job_name}"
        )
        live = [p.metadata.name for p in pods.items if p.status.phase in LIVE_POD_PHASES]
        for pod in live:
            # No grace period: a hung process would not act on SIGTERM anyway.
            await self.core.delete_namespaced_pod(pod, namespace, grace_period_seconds=0)
        return live

    async def close(self) -> None:
        await self.api.close()


def _api_message(data: bytes) -> str | None:
    try:
        message = json.loads(data).get("message")
    except (ValueError, AttributeError):
        return None
    return str(message) if message else None
