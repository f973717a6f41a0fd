"""The resources and Jobs of the operator benchmark: their bodies, batches of them created at
a rate or at once, and the namespace (and Kueue queue) they live in."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubernetes_asyncio import client, config

from audiotext.config import Settings
from audiotext.kube import constants as k
from audiotext.operator.builders import build_job, job_name
from benchkit.kube_operator import CRD, KUBECONFIG, NODE, Operator, Watcher, kubectl


def resource_body(name: str, queue: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": k.API_VERSION,
        "kind": k.KIND,
        "metadata": {"name": name},
        "spec": {
            "audio": {"url": f"s3://bench/{name}.flac"},
            "model": "tiny.en",
            "device": "cpu",
            "nodeSelector": {"kubernetes.io/hostname": NODE},
        },
    }
    if queue:
        body["spec"]["queueName"] = queue
    return body


def raw_job_body(namespace: str, name: str, settings: Settings) -> dict[str, Any]:
    """The Job the operator would build, created directly: suspended, without the operator's
    label (so the operator leaves it alone), named as the operator would name it."""
    resource = resource_body(name)
    resource["metadata"]["namespace"] = namespace
    job = build_job(resource, str(uuid.uuid4()), settings)
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        labels.pop(k.LABEL_MANAGED_BY, None)
    job["spec"]["suspend"] = True
    return job


@dataclass
class Batch:
    """One phase: what was created when, and when its Jobs were seen."""

    label: str
    names: list[str]
    created: dict[str, float] = field(default_factory=dict)  # name → create call returned
    started: float = 0.0
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0

    def latencies(self, watcher: Watcher) -> list[float]:
        # The watch can see a Job a moment before the create call's response is read: 0.
        return [
            max(0.0, watcher.jobs[job_name(n)] - t)
            for n, t in self.created.items()
            if job_name(n) in watcher.jobs
        ]

    def wall(self, watcher: Watcher) -> float | None:
        seen = [watcher.jobs.get(job_name(n)) for n in self.names]
        if not seen or any(t is None for t in seen):
            return None
        return max(t for t in seen if t is not None) - self.started

    def admitted_wall(self, watcher: Watcher) -> float | None:
        """First create → the last of its Jobs running (admitted, where Kueue holds them)."""
        seen = [watcher.admitted.get(job_name(n)) for n in self.names]
        if not seen or any(t is None for t in seen):
            return None
        return max(t for t in seen if t is not None) - self.started

    def final_latencies(self, watcher: Watcher) -> list[float]:
        result = []
        for n, t in self.created.items():
            final = watcher.final_at(n)
            if final is not None:
                result.append(final - t)
        return result

    def final_wall(self, watcher: Watcher) -> float | None:
        final = [watcher.final_at(n) for n in self.names]
        if not final or any(t is None for t in final):
            return None
        return max(t for t in final if t is not None) - self.started


async def create_batch(
    api: client.ApiClient,
    namespace: str,
    batch: Batch,
    raw: bool,
    rate: float | None,
    concurrency: int,
    settings: Settings,
    queue: str = "",
) -> None:
    """Create the batch's objects: ``rate`` per second, or all at once when rate is None."""
    objects, jobs = client.CustomObjectsApi(api), client.BatchV1Api(api)
    gate = asyncio.Semaphore(concurrency)

    async def create(name: str) -> None:
        async with gate:
            try:
                if raw:
                    response = await jobs.create_namespaced_job(
                        namespace,
                        raw_job_body(namespace, name, settings),  # type: ignore[arg-type]
                        _preload_content=False,
                    )
                else:
                    response = await objects.create_namespaced_custom_object(
                        k.GROUP,
                        k.VERSION,
                        namespace,
                        k.PLURAL,
                        resource_body(name, queue),
                        _preload_content=False,
                    )
                body = await response.read()
                returned = time.monotonic()
                response.release()
            except Exception as exc:
                batch.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                return
            if 200 <= response.status < 300:
                batch.created[name] = returned
            else:
                batch.errors.append(f"{name}: HTTP {response.status} {body[:200]!r}")

    tasks = []
    batch.started = time.monotonic()
    for i, name in enumerate(batch.names):
        if rate:
            delay = batch.started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(create(name)))
    await asyncio.gather(*tasks)


async def api_client(pool: int) -> client.ApiClient:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(KUBECONFIG), client_configuration=configuration)
    configuration.connection_pool_maxsize = pool
    return client.ApiClient(configuration)


# --- the run --------------------------------------------------------------------------------


@contextlib.contextmanager
def namespace_for_bench() -> Iterator[str]:
    namespace = f"audiotext-bench-{uuid.uuid4().hex[:6]}"
    kubectl("apply", "-f", str(CRD))
    kubectl("wait", "--for=condition=Established", "crd/transcriptionjobs.audiotext.io")
    kubectl("create", "namespace", namespace)
    try:
        yield namespace
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@contextlib.contextmanager
def kueue_queue(namespace: str) -> Iterator[str]:
    """A LocalQueue whose ClusterQueue has room for every job, on the kwok node: Kueue's own
    cost, not a wait for quota."""
    flavor = f"bench-{namespace[-6:]}"
    ample = [{"name": r, "nominalQuota": "100000"} for r in ("cpu", "memory")]
    objects = [
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ResourceFlavor",
            "metadata": {"name": flavor},
            "spec": {"nodeLabels": {"kubernetes.io/hostname": NODE}},
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ClusterQueue",
            "metadata": {"name": flavor},
            "spec": {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": ["cpu", "memory"],
                        "flavors": [{"name": flavor, "resources": ample}],
                    }
                ],
            },
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "LocalQueue",
            "metadata": {"name": "bench", "namespace": namespace},
            "spec": {"clusterQueue": flavor},
        },
    ]
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    kubectl("apply", "-f", "-", input=listing)
    try:
        yield "bench"
    finally:
        kubectl("delete", "-f", "-", "--wait=false", input=listing, check=False)


def release_resources(namespace: str, operator: Operator) -> None:
    """Delete the resources while the operator runs (it removes its finalizers)."""
    kubectl("delete", "tj", "--all", "-n", namespace, "--wait=false", check=False)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        left = kubectl("get", "tj", "-n", namespace, "-o", "name", check=False).split()
        if not left:
            return
        time.sleep(2)
    operator.stop()
    # What is left would keep the namespace terminating for ever: drop the finalizers.
    for name in kubectl("get", "tj", "-n", namespace, "-o", "name", check=False).split():
        kubectl(
            "patch", name, "-n", namespace, "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}', check=False,
        )  # fmt: skip
