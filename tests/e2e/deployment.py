"""AudioText deployed against the test cluster as a platform team would run it.

PostgreSQL, Redis and MinIO listen on loopback and on the address pods reach; the operator and
the gateway run as processes with their own service accounts' tokens (never as admin); worker
Jobs run the real worker image on runner-node-0.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
import yaml

from support.cluster import Cluster
from support.servers import (
    AUDIOTEXT,
    MinioServer,
    PostgresServer,
    RedisServer,
    free_port,
    wait_healthy,
)

ROOT = Path(__file__).resolve().parents[2]
WORKER_IMAGE = "localhost/audiotext-worker:dev"
RUNNER_SELECTOR = {"audiotext.io/runner": "true"}
RUNNER_TOLERATION = {
    "key": "audiotext.io/runner",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}


@dataclass
class Servers:
    postgres: PostgresServer
    redis: RedisServer
    minio: MinioServer

    def close(self) -> None:
        for server in (self.postgres, self.redis, self.minio):
            server.close()


def start_servers(host_ip: str) -> Servers:
    hosts = ("127.0.0.1", host_ip)
    servers = Servers(
        PostgresServer(hosts=hosts), RedisServer(hosts=hosts), MinioServer(hosts=hosts)
    )
    for server in (servers.postgres, servers.redis, servers.minio):
        server.start()
    return servers


def service_account_kubeconfig(cluster: Cluster, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig that authenticates with a service account's token, nothing more."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    server = admin["clusters"][0]["cluster"]
    token = cluster.run(
        "create", "token", account, "-n", namespace, "--duration", "2h"
    ).stdout.strip()
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": server}],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [
                    {
                        "name": account,
                        "context": {"cluster": "test", "user": account, "namespace": namespace},
                    }
                ],
                "current-context": account,
            }
        )
    )
    return path


def rbac_manifests(namespace: str, suffix: str) -> list[dict[str, Any]]:
    """The manifests of rbac/ for one namespace (cluster-scoped names made unique)."""
    objects = []
    for manifest in sorted((ROOT / "rbac").glob("*.yaml")):
        for obj in yaml.safe_load_all(manifest.read_text()):
            meta = obj["metadata"]
            if "namespace" in meta:
                meta["namespace"] = namespace
            if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                meta["name"] = f"{meta['name']}-{suffix}"
            if obj["kind"] == "ClusterRoleBinding":
                obj["roleRef"]["name"] = f"{obj['roleRef']['name']}-{suffix}"
            for subject in obj.get("subjects", []):
                subject["namespace"] = namespace
            objects.append(obj)
    return objects


@dataclass
class Deployment:
    cluster: Cluster
    servers: Servers
    namespace: str
    workdir: Path
    bucket: str
    gateway_url: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # --- configuration -------------------------------------------------------------------
    def backend_env(self, host: str) -> dict[str, str]:
        database = self.servers.postgres.url_for(host=host)
        return {
            "AUDIOTEXT_DATABASE_URL": database,
            "AUDIOTEXT_REDIS_URL": self.servers.redis.url_for_host(host),
            "AUDIOTEXT_STORAGE_URL": f"s3://{self.bucket}/jobs",
            **self.servers.minio.env(host),
        }

    def process_env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            **self.backend_env("127.0.0.1"),
            "AUDIOTEXT_DATA_DIR": str(self.workdir / "data"),
            "AUDIOTEXT_NAMESPACE": self.namespace,
            **extra,
        }

    def operator_env(self) -> dict[str, str]:
        return self.process_env(
            AUDIOTEXT_KUBECONFIG=str(self.workdir / "operator.kubeconfig"),
            AUDIOTEXT_OPERATOR_NAMESPACES=json.dumps([self.namespace]),
            AUDIOTEXT_OPERATOR_HEALTH_PORT="0",
            AUDIOTEXT_WORKER_IMAGE=WORKER_IMAGE,
            AUDIOTEXT_WORKER_DEVICE="cpu",
            # CPU workers run on the real node; GPU ones go to the (simulated) GPU node.
            AUDIOTEXT_WORKER_CPU_NODE_SELECTOR=json.dumps(RUNNER_SELECTOR),
            AUDIOTEXT_WORKER_CPU_TOLERATIONS=json.dumps([RUNNER_TOLERATION]),
            AUDIOTEXT_WORKER_RESOURCES=json.dumps({"limits": {"memory": "1Gi"}}),
        )

    # --- processes -----------------------------------------------------------------------
    def start_operator(self, **env: str) -> None:
        """Start the operator (``env`` overrides its settings)."""
        log = (self.workdir / "operator.log").open("ab")
        self.processes["operator"] = subprocess.Popen(
            [AUDIOTEXT, "operator"], env={**self.operator_env(), **env}, stdout=log, stderr=log
        )
        time.sleep(1)
        assert self.processes["operator"].poll() is None, self.log("operator")

    def stop_operator(self, kill: bool = False) -> None:
        process = self.processes.pop("operator")
        if kill:
            process.kill()
        else:
            process.terminate()
        process.wait(timeout=30)

    def start_gateway(self, name: str = "gateway", **env: str) -> str:
        """Start a gateway process (``env`` overrides its settings); returns its URL."""
        port = free_port()
        defaults = {
            "AUDIOTEXT_EXECUTOR": "kubernetes",
            "AUDIOTEXT_WORKER_DEVICE": "cpu",
            "AUDIOTEXT_KUBECONFIG": str(self.workdir / "gateway.kubeconfig"),
            "AUDIOTEXT_PORT": str(port),
        }
        environment = self.process_env(**{**defaults, **env})
        log = (self.workdir / f"{name}.log").open("ab")
        process = subprocess.Popen([AUDIOTEXT, "api"], env=environment, stdout=log, stderr=log)
        self.processes[name] = process
        url = f"http://127.0.0.1:{port}"
        if name == "gateway":
            self.gateway_url = url
        wait_healthy(
            url,
            process,
            exited=lambda: self.log(name),
            failure=f"{name} did not start",
            interval=0.2,
        )
        return url

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        process.terminate()
        process.wait(timeout=30)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def close(self) -> None:
        # While the operator still runs: it removes any finalizer kopf left on unfinished
        # resources, so the namespace can go.
        self.cluster.run(
            "delete", "tj", "--all", "-n", self.namespace, "--timeout=60s", check=False
        )
        for process in self.processes.values():
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        self.cluster.run("delete", "namespace", self.namespace, "--wait=false", check=False)
        self.cluster.run(
            "delete",
            "clusterrole,clusterrolebinding",
            "-l",
            f"audiotext.io/e2e={self.namespace}",
            check=False,
        )

    # --- reading -------------------------------------------------------------------------
    def resource(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.cluster.json("get", "tj", name, "-n", self.namespace)
        return result

    def wait_phase(self, name: str, phases: set[str], timeout: float = 180) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            tj = self.resource(name)
            return tj if tj.get("status", {}).get("phase") in phases else None

        try:
            result: dict[str, Any] = self.cluster.wait_for(f"{name} in {phases}", reached, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.explain(name)}") from None
        return result

    def explain(self, name: str) -> str:
        """What a test that timed out needs to know: the resource, its Job's pods, the
        namespace's recent events and the operator's log."""
        tj = self.resource(name)
        pods = [
            {
                "name": p["metadata"]["name"],
                "node": p["spec"].get("nodeName"),
                **p.get("status", {}),
            }
            for p in self.pods(name)
        ]
        events = self.cluster.run(
            "get", "events", "-n", self.namespace, "--sort-by=.lastTimestamp", check=False
        ).stdout
        shown = {"metadata": tj.get("metadata"), "status": tj.get("status")}
        return (
            f"resource: {json.dumps(shown)}\n"
            f"pods: {json.dumps(pods)}\n"
            f"events (last 30):\n{''.join(events.splitlines(keepends=True)[-30:])}\n"
            f"operator log:\n{self.log('operator')}"
        )

    def jobs(self, name: str) -> list[dict[str, Any]]:
        listing = self.cluster.json(
            "get", "jobs", "-n", self.namespace, "-l", f"audiotext.io/transcriptionjob={name}"
        )
        return list(listing["items"])

    def pods(self, name: str) -> list[dict[str, Any]]:
        listing = self.cluster.json(
            "get", "pods", "-n", self.namespace, "-l", f"audiotext.io/transcriptionjob={name}"
        )
        return list(listing["items"])

    def upload(self, path: Path, content_type: str = "audio/flac") -> str:
        """Put audio in the bucket as a client would (presigned PUT); returns its URL."""
        data = path.read_bytes()
        signed = httpx.post(
            f"{self.gateway_url}/api/v1/audio/presigned-url",
            json={"filename": path.name, "content_type": content_type, "size": len(data)},
        ).json()
        put = httpx.put(signed["upload_url"], content=data, headers=signed["headers"])
        assert put.status_code == 200, put.text
        return str(signed["url"])


def transcription_job(name: str, url: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "audiotext.io/v1alpha1",
        "kind": "TranscriptionJob",
        "metadata": {"name": name},
        "spec": {"audio": {"url": url}, **spec},
    }


def job_row(deployment: Deployment, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{deployment.gateway_url}/api/v1/job/status/{job_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def deploy(cluster: Cluster, servers: Servers, workdir: Path) -> Iterator[Deployment]:
    namespace = f"audiotext-e2e-{uuid.uuid4().hex[:6]}"
    cluster.run("apply", "-f", str(ROOT / "crds" / "transcriptionjobs.audiotext.io.yaml"))
    cluster.run("wait", "--for=condition=Established", "crd/transcriptionjobs.audiotext.io")
    cluster.run("create", "namespace", namespace)
    # The API server itself refuses worker pods that break the restricted Pod Security Standard.
    cluster.run("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    objects = rbac_manifests(namespace, namespace)
    for obj in objects:
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            obj["metadata"].setdefault("labels", {})["audiotext.io/e2e"] = namespace
    cluster.apply(objects)
    deployment = Deployment(
        cluster, servers, namespace, workdir, bucket=f"e2e-{uuid.uuid4().hex[:10]}"
    )
    # The worker pods' configuration: a Secret whose keys become their environment.
    # Frequent heartbeats, so the operator may call a worker hung after a short silence.
    secret_env = {**deployment.backend_env(cluster.host_ip), "AUDIOTEXT_HEARTBEAT_SECONDS": "2"}
    cluster.run(
        "create",
        "secret",
        "generic",
        "audiotext-worker",
        "-n",
        namespace,
        *[f"--from-literal={key}={value}" for key, value in secret_env.items()],
    )
    service_account_kubeconfig(
        cluster, namespace, "audiotext-operator", workdir / "operator.kubeconfig"
    )
    service_account_kubeconfig(
        cluster, namespace, "audiotext-gateway", workdir / "gateway.kubeconfig"
    )
    subprocess.run(
        [AUDIOTEXT, "migrate"], env=deployment.process_env(), check=True, capture_output=True
    )
    try:
        deployment.start_operator()
        deployment.start_gateway()
        yield deployment
    finally:
        deployment.close()


def ensure_worker_image(cluster: Cluster) -> None:
    """Build the images if needed and make sure the node has the current worker image."""
    build_images("images")
    import_images()


def build_images(target: str) -> None:
    """``make images`` (or ``images-dev``), unless they were built just before by hand."""
    if os.environ.get("AUDIOTEXT_E2E_PREBUILT") == "1":
        return
    built = subprocess.run(["make", target], cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0, (
        f"make {target} failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    )


def import_images() -> None:
    """Import what podman holds into the node's containerd (skips what is there already)."""
    imported = subprocess.run(["make", "cluster-images"], cwd=ROOT, capture_output=True, text=True)
    assert imported.returncode == 0, (
        f"import failed:\n{imported.stdout[-3000:]}\n{imported.stderr[-3000:]}"
    )


async def follow(url: str, timeout: float = 240) -> list[dict[str, Any]]:
    """Every message of a job's WebSocket, until the server closes it."""
    messages: list[dict[str, Any]] = []
    async with websockets.connect(url) as socket:
        async with asyncio.timeout(timeout):
            async for raw in socket:
                messages.append(json.loads(raw))
    return messages


def kubectl_columns(cluster: Cluster, namespace: str) -> dict[str, list[str]]:
    """``kubectl get tj`` as a user sees it: header → the values of every row."""
    return table_columns(cluster.run("get", "tj", "-n", namespace).stdout)


def table_columns(table: str) -> dict[str, list[str]]:
    """A table kubectl printed: header → the values of every row, read at the columns' places
    (a column with nothing in a row, as SHARDS of a job in one pod, is "")."""
    header, *rows = table.rstrip().splitlines()
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return {header[a:b].strip(): [row[a:b].strip() for row in rows] for a, b in bounds}
