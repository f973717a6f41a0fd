"""What a user gets from ``helm install`` on kind, proven on the test cluster's real node.

The chart is installed with values-dev.yaml and the locally built images: the gateway,
operator, migration, dev-server and realtime pods run for real on runner-node-0, and a
transcription submitted through the gateway's Service completes: the operator creates the Job
(which the chart's Kueue queue admits), the worker pod transcribes jfk.flac, and the status
comes back through PostgreSQL and Redis. A live session goes through the gateway to the
realtime Deployment.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deployment import ROOT, build_images, follow, import_images
from helpers import JFK_TEXT
from realtime_client import jfk_pcm, live_session, live_view_text
from support.cluster import Cluster
from wer import wer

pytestmark = [
    pytest.mark.k8s,
    pytest.mark.images,
    pytest.mark.helm,
    pytest.mark.browser,
    pytest.mark.slow,
]

CHART = ROOT / "charts" / "audiotext"
DEV_IMAGE = "localhost/audiotext-devservers:dev"
RUNNER = {
    "nodeSelector": {"audiotext.io/runner": "true"},
    "tolerations": [
        {"key": "audiotext.io/runner", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ],
}


def node_values(namespace: str) -> dict[str, Any]:
    """values-dev.yaml's companion for a cluster without a registry: every pod on the real node."""
    return {
        "gateway": dict(RUNNER),
        "operator": {**RUNNER, "watchNamespaces": [namespace]},
        "migrations": dict(RUNNER),
        "worker": dict(RUNNER),
        "realtime": {"enabled": True, "sessions": 2, **RUNNER},
        # Every job through the real Kueue: a flavor for the runner node, room for two.
        "kueue": {
            "enabled": True,
            "flavors": [
                {
                    "name": "runner",
                    "nodeLabels": RUNNER["nodeSelector"],
                    "tolerations": RUNNER["tolerations"],
                    "quota": {"cpu": "2", "memory": "4Gi"},
                }
            ],
            "priorityClasses": {"create": False},  # cluster-wide: the Kueue tests make them
        },
        "dev": {
            **RUNNER,
            "postgresql": {"image": DEV_IMAGE},
            "redis": {"image": DEV_IMAGE},
            "minio": {"image": DEV_IMAGE},
        },
    }


class Release:
    def __init__(self, cluster: Cluster, namespace: str, name: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.fullname = f"{name}-audiotext"

    def helm(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.cluster.helm), *args, "--kubeconfig", str(self.cluster.kubeconfig)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.cluster.run("-n", self.namespace, *args, check=check)

    def story(self) -> str:
        """What went on in the namespace, for a failing assertion."""
        pods = self.kubectl("get", "pods,jobs,tj", "-o", "wide", check=False).stdout
        events = self.kubectl(
            "get", "events", "--sort-by=.lastTimestamp", check=False
        ).stdout.splitlines()[-30:]
        logs = {
            component: self.kubectl(
                "logs", f"deploy/{self.fullname}-{component}", "--tail=15", check=False
            ).stdout
            for component in ("gateway", "operator")
        }
        return f"{pods}\n" + "\n".join(events) + "\n" + json.dumps(logs, indent=1)


@pytest.fixture
def release(k8s_cluster: Cluster, tmp_path: Path) -> Iterator[Release]:
    build_images("images-dev")
    import_images()
    namespace = f"helm-{uuid.uuid4().hex[:8]}"
    k8s_cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            },
        }
    )
    release = Release(k8s_cluster, namespace, f"at{uuid.uuid4().hex[:6]}")
    values = tmp_path / "node-values.yaml"
    values.write_text(yaml.safe_dump(node_values(namespace)))
    try:
        yield release
    finally:
        release.helm("uninstall", release.name, "-n", namespace, "--wait", "--timeout", "2m")
        k8s_cluster.run("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture
def installed(release: Release, tmp_path: Path) -> Release:
    proc = release.helm(
        "install",
        release.name,
        str(CHART),
        "-n",
        release.namespace,
        "-f",
        str(CHART / "values-dev.yaml"),
        "-f",
        str(tmp_path / "node-values.yaml"),
        "--wait",
        "--wait-for-jobs",
        "--timeout",
        "6m",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr + release.story()
    return release


@pytest.fixture
def gateway_url(installed: Release) -> Iterator[str]:
    target = f"svc/{installed.fullname}-gateway"
    with installed.cluster.port_forward(installed.namespace, target, 3203) as (port, forward):
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert forward.poll() is None and time.monotonic() < deadline, "port-forward failed"
            time.sleep(0.3)
        yield url


async def test_helm_install_with_dev_values_transcribes_on_the_real_node(
    installed: Release, gateway_url: str, jfk: Path, tmp_path: Path
) -> None:
    release = installed
    pods = release.cluster.json("get", "pods", "-n", release.namespace)["items"]
    running = {p["metadata"]["labels"].get("app.kubernetes.io/component"): p for p in pods}
    assert {"gateway", "operator", "postgresql", "redis", "minio", "realtime"} <= set(running)
    for component, pod in running.items():
        if component == "migrate":
            continue
        ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        assert pod["spec"]["nodeName"] == "runner-node-0", component
        assert ready.get("Ready") == "True", (component, pod["status"])

    # Auth is on by default in the chart: a key is made the way NOTES.txt says.
    created_key = release.kubectl(
        "exec", f"deploy/{release.fullname}-gateway", "--", "audiotext", "keys", "create",
        "--name", "e2e",
    )  # fmt: skip
    key = created_key.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\S{20,}", key), created_key.stdout
    headers = {"Authorization": f"Bearer {key}"}

    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as client:
        assert (await client.get("/api/v1/job/read")).status_code == 401
        with jfk.open("rb") as audio:
            created = await client.post(
                "/api/v1/job/transcribe",
                files={"file": ("jfk.flac", audio, "audio/flac")},
                headers=headers,
            )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        ws = f"{gateway_url.replace('http', 'ws')}/api/v1/job/ws/{job_id}?token={key}"
        messages = await follow(ws, timeout=300)
        final = messages[-1]
        assert final["status"] == "completed", (final, release.story())
        assert wer(JFK_TEXT, final["result_text"]) <= 0.1
        status = await client.get(f"/api/v1/job/status/{job_id}", headers=headers)
        assert status.json()["status"] == "completed"
        vtt = await client.get(f"/api/v1/job/{job_id}/transcript?format=vtt", headers=headers)
        assert vtt.text.startswith("WEBVTT"), vtt.text

        # The web app through the chart's Service, and the job's audio from S3 for its player.
        page = await client.get("/")
        assert page.status_code == 200 and "/app/app.js" in page.text
        assert (await client.get("/app/app.js")).status_code == 200
        link = await client.post(f"/api/v1/job/{job_id}/audio-link", headers=headers)
        played = await client.get(link.json()["url"], headers={"Range": "bytes=0-99"})
        assert played.status_code == 206, played.text
        assert played.content == jfk.read_bytes()[:100]

    # Live transcription: the SDK's realtime client through the gateway, which relays the
    # session to the realtime Deployment.
    events = await asyncio.to_thread(live_session, gateway_url, jfk_pcm(), key)
    completed = [e for e in events if e.type.endswith("transcription.completed")]
    assert completed, ([e.type for e in events], release.story())
    assert wer(JFK_TEXT, " ".join(e.transcript for e in completed)) <= 0.15
    # ...and the web app's Live view, with a microphone, in a browser.
    shown = await asyncio.to_thread(live_view_text, gateway_url, key, tmp_path)
    assert "your country" in shown.lower(), shown

    # The resource follows the Job, which finishes just after the worker wrote the row.
    def phase() -> str | None:
        tj = release.cluster.json("get", "tj", job_id, "-n", release.namespace)
        return tj.get("status", {}).get("phase") if tj else None

    release.cluster.wait_for("the resource to succeed", lambda: phase() == "Succeeded", timeout=60)
    workers = release.cluster.json(
        "get", "pods", "-n", release.namespace, "-l", f"job-name={job_id}-worker"
    )["items"]
    assert workers and all(p["spec"]["nodeName"] == "runner-node-0" for p in workers)
    # It went through Kueue: the chart's LocalQueue, and a Workload that Kueue admitted.
    (worker_job,) = release.cluster.json(
        "get", "jobs", "-n", release.namespace, "-l", f"audiotext.io/job-id={job_id}"
    )["items"]
    assert worker_job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "audiotext"
    (workload,) = release.cluster.json(
        "get",
        "workloads.kueue.x-k8s.io",
        "-n",
        release.namespace,
        "-l",
        f"kueue.x-k8s.io/job-uid={worker_job['metadata']['uid']}",
    )["items"]
    admitted = {c["type"]: c["status"] for c in workload["status"]["conditions"]}
    assert admitted.get("Admitted") == "True" or admitted.get("Finished") == "True", workload
