"""Proof that the test cluster is a real Kubernetes cluster (issue 11).

The workloads run a tiny busybox image that cluster-up builds and imports into
runner-node-0's containerd (localhost/audiotext-testbox:dev); nothing is pulled.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from support.cluster import Cluster

pytestmark = pytest.mark.k8s

TESTBOX = "localhost/audiotext-testbox:dev"
RUNNER = {
    "nodeSelector": {"audiotext.io/runner": "true"},
    "tolerations": [
        {"key": "audiotext.io/runner", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ],
}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


@pytest.fixture
def ns(k8s_cluster: Cluster) -> Iterator[str]:
    """A fresh namespace, deleted afterwards (without waiting)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    k8s_cluster.run("create", "namespace", name)
    k8s_cluster.wait_for(
        "the default service account",
        lambda: k8s_cluster.run("get", "sa", "default", "-n", name, check=False).returncode == 0,
    )
    yield name
    k8s_cluster.run("delete", "namespace", name, "--wait=false", check=False)


def runner_pod(name: str, command: str, **spec: Any) -> dict[str, Any]:
    """A pod for runner-node-0 that runs ``sh -c COMMAND`` in the test image."""
    container = {
        "name": "main",
        "image": TESTBOX,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", command],
        **spec.pop("container", {}),
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **spec.pop("meta", {})},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [container],
            **RUNNER,
            **spec,
        },
    }


def pod_phase(cluster: Cluster, ns: str, name: str) -> str:
    return str(cluster.json("get", "pod", name, "-n", ns).get("status", {}).get("phase", ""))


def wait_pod_done(cluster: Cluster, ns: str, name: str, timeout: float = 60) -> dict[str, Any]:
    cluster.wait_for(
        f"pod {name} to finish",
        lambda: pod_phase(cluster, ns, name) in ("Succeeded", "Failed"),
        timeout,
    )
    return dict(cluster.json("get", "pod", name, "-n", ns))


def wait_job_condition(cluster: Cluster, ns: str, name: str, timeout: float = 60) -> str:
    def finished() -> str:
        job = cluster.json("get", "job", name, "-n", ns)
        for cond in job.get("status", {}).get("conditions", []):
            if cond["type"] in ("Complete", "Failed") and cond["status"] == "True":
                return str(cond["type"])
        return ""

    return str(cluster.wait_for(f"job {name} to finish", finished, timeout))


def job(name: str, pod_spec: dict[str, Any], **job_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}, **job_spec},
    }


def test_server_version_and_nodes(k8s_cluster: Cluster) -> None:
    version = json.loads(k8s_cluster.run("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.34.")
    assert version["clientVersion"]["gitVersion"].startswith("v1.34.")
    assert version["serverVersion"]["minor"] == "34"

    nodes = {n["metadata"]["name"]: n for n in k8s_cluster.json("get", "nodes")["items"]}
    assert set(nodes) >= {"runner-node-0", "gpu-node-0", "cpu-node-0"}
    for name in ("runner-node-0", "gpu-node-0", "cpu-node-0"):
        ready = {c["type"]: c["status"] for c in nodes[name]["status"]["conditions"]}
        assert ready.get("Ready") == "True", (name, ready)
        taints = {t["key"] for t in nodes[name]["spec"].get("taints", [])}
        assert "node.kubernetes.io/not-ready" not in taints, name

    runner = nodes["runner-node-0"]
    assert runner["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    assert runner["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.34.")
    assert runner["metadata"]["labels"]["audiotext.io/runner"] == "true"
    assert {"key": "audiotext.io/runner", "value": "true", "effect": "NoSchedule"} in [
        {k: t.get(k) for k in ("key", "value", "effect")} for t in runner["spec"]["taints"]
    ]

    gpu = nodes["gpu-node-0"]
    assert gpu["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
    assert gpu["status"]["capacity"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in [
        {k: t.get(k) for k in ("key", "value", "effect")} for t in gpu["spec"]["taints"]
    ]
    assert "nvidia.com/gpu" not in nodes["cpu-node-0"]["status"]["capacity"]

    assert k8s_cluster.host_ip
    helm = subprocess.run(
        [str(k8s_cluster.helm), "version", "--short"], capture_output=True, text=True, check=True
    )
    assert helm.stdout.startswith("v3.")


def test_pod_gets_env_secret_configmap_and_logs(k8s_cluster: Cluster, ns: str) -> None:
    k8s_cluster.run(
        "create", "secret", "generic", "creds", "-n", ns, "--from-literal=password=s3cr3t-value"
    )
    k8s_cluster.run(
        "create", "configmap", "settings", "-n", ns, "--from-literal=mode=from-configmap"
    )
    pod = runner_pod(
        "reader",
        'echo "env=$GREETING"; echo "secret=$(cat /secret/password)";'
        ' echo "config=$(cat /config/mode)"',
        container={
            "env": [{"name": "GREETING", "value": "hello-env"}],
            "volumeMounts": [
                {"name": "secret", "mountPath": "/secret"},
                {"name": "config", "mountPath": "/config"},
            ],
        },
        volumes=[
            {"name": "secret", "secret": {"secretName": "creds"}},
            {"name": "config", "configMap": {"name": "settings"}},
        ],
    )
    k8s_cluster.apply(pod, namespace=ns)
    status = wait_pod_done(k8s_cluster, ns, "reader")
    assert status["status"]["phase"] == "Succeeded"
    assert status["spec"]["nodeName"] == "runner-node-0"
    logs = k8s_cluster.run("logs", "reader", "-n", ns).stdout
    assert "env=hello-env" in logs
    assert "secret=s3cr3t-value" in logs
    assert "config=from-configmap" in logs


def test_failing_job_reports_exit_code(k8s_cluster: Cluster, ns: str) -> None:
    spec = runner_pod("x", "exit 3")["spec"]
    k8s_cluster.apply(job("fails", spec), namespace=ns)
    assert wait_job_condition(k8s_cluster, ns, "fails") == "Failed"
    pods = k8s_cluster.json("get", "pods", "-n", ns, "-l", "job-name=fails")["items"]
    assert len(pods) == 1
    terminated = pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3
    assert pods[0]["status"]["phase"] == "Failed"


def test_memory_limit_is_enforced(k8s_cluster: Cluster, ns: str) -> None:
    # dd allocates its whole block before reading into it: 256 MiB against a 64 MiB limit.
    pod = runner_pod(
        "hog",
        "dd if=/dev/zero of=/dev/null bs=256M count=4",
        container={"resources": {"limits": {"memory": "64Mi"}}},
    )
    k8s_cluster.apply(pod, namespace=ns)
    status = wait_pod_done(k8s_cluster, ns, "hog")
    terminated = status["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["reason"] == "OOMKilled"
    assert terminated["exitCode"] == 137


def _serving_pod(ns: str) -> dict[str, Any]:
    return runner_pod(
        "web",
        "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www",
        meta={"labels": {"app": "web"}},
        container={
            "ports": [{"containerPort": 8080}],
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
        },
    )


def _wait_ready(cluster: Cluster, ns: str, name: str) -> None:
    def ready() -> bool:
        conds = cluster.json("get", "pod", name, "-n", ns).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

    cluster.wait_for(f"pod {name} Ready", ready, 60)


def test_service_answers_by_dns_name(k8s_cluster: Cluster, ns: str) -> None:
    k8s_cluster.apply(_serving_pod(ns), namespace=ns)
    k8s_cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        namespace=ns,
    )
    _wait_ready(k8s_cluster, ns, "web")
    client = runner_pod(
        "client",
        # fetch (Go) resolves through /etc/resolv.conf and its search domains: the short name.
        f"nslookup web.{ns}.svc.cluster.local && fetch -retries 30 http://web/",
    )
    k8s_cluster.apply(client, namespace=ns)
    status = wait_pod_done(k8s_cluster, ns, "client", timeout=90)
    logs = k8s_cluster.run("logs", "client", "-n", ns).stdout
    assert status["status"]["phase"] == "Succeeded", logs
    assert "hello-from-web" in logs
    service_ip = k8s_cluster.json("get", "service", "web", "-n", ns)["spec"]["clusterIP"]
    assert service_ip in logs  # the DNS answer is the Service's cluster IP


def test_pod_reaches_api_server_with_its_token(k8s_cluster: Cluster, ns: str) -> None:
    k8s_cluster.run("create", "configmap", "visible-to-pod", "-n", ns, "--from-literal=a=b")
    k8s_cluster.run(
        "create", "role", "read-configmaps", "-n", ns, "--verb=list", "--resource=configmaps"
    )
    k8s_cluster.run(
        "create",
        "rolebinding",
        "read-configmaps",
        "-n",
        ns,
        "--role=read-configmaps",
        f"--serviceaccount={ns}:default",
    )
    sa = "/var/run/secrets/kubernetes.io/serviceaccount"
    pod = runner_pod(
        "api-client",
        f'echo "host=$KUBERNETES_SERVICE_HOST";'
        f" fetch -ca-file {sa}/ca.crt -bearer-file {sa}/token"
        f' "https://kubernetes.default.svc/api/v1/namespaces/$(cat {sa}/namespace)/configmaps"',
    )
    k8s_cluster.apply(pod, namespace=ns)
    status = wait_pod_done(k8s_cluster, ns, "api-client")
    logs = k8s_cluster.run("logs", "api-client", "-n", ns).stdout
    assert status["status"]["phase"] == "Succeeded", logs
    assert "host=10.96.0.1" in logs
    assert '"visible-to-pod"' in logs, logs


def test_logs_exec_and_port_forward(k8s_cluster: Cluster, ns: str) -> None:
    k8s_cluster.apply(_serving_pod(ns), namespace=ns)
    _wait_ready(k8s_cluster, ns, "web")
    out = k8s_cluster.run("exec", "web", "-n", ns, "--", "cat", "/www/index.html").stdout
    assert out.strip() == "hello-from-web"

    with k8s_cluster.port_forward(ns, "pod/web", 8080) as (port, _):
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    body = resp.read().decode()
                break
            except OSError:
                time.sleep(0.3)
        assert body.strip() == "hello-from-web"


def test_gpu_job_lands_on_gpu_node(k8s_cluster: Cluster, ns: str) -> None:
    gpu_container = {
        "name": "main",
        "image": TESTBOX,
        "command": ["true"],
        "resources": {"limits": {"nvidia.com/gpu": "1"}},
    }
    k8s_cluster.apply(
        job(
            "on-gpu",
            {
                "restartPolicy": "Never",
                "tolerations": [GPU_TOLERATION],
                "containers": [gpu_container],
            },
        ),
        namespace=ns,
    )
    k8s_cluster.apply(
        job("no-toleration", {"restartPolicy": "Never", "containers": [gpu_container]}),
        namespace=ns,
    )
    k8s_cluster.apply(
        job(
            "plain",
            {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": TESTBOX, "command": ["true"]}],
            },
        ),
        namespace=ns,
    )

    assert wait_job_condition(k8s_cluster, ns, "on-gpu") == "Complete"
    assert wait_job_condition(k8s_cluster, ns, "plain") == "Complete"

    def node_of(job_name: str) -> str:
        pods = k8s_cluster.json("get", "pods", "-n", ns, "-l", f"job-name={job_name}")["items"]
        return str(pods[0]["spec"].get("nodeName", "")) if pods else ""

    assert node_of("on-gpu") == "gpu-node-0"
    assert node_of("plain") not in ("", "gpu-node-0")

    def unschedulable() -> bool:
        pods = k8s_cluster.json("get", "pods", "-n", ns, "-l", "job-name=no-toleration")["items"]
        conds = pods[0]["status"].get("conditions", []) if pods else []
        return any(
            c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conds
        )

    k8s_cluster.wait_for("the GPU job without toleration to be unschedulable", unschedulable, 30)
    assert node_of("no-toleration") == ""


def test_deleting_owner_collects_its_job(k8s_cluster: Cluster, ns: str) -> None:
    k8s_cluster.run("create", "configmap", "owner", "-n", ns)
    owner_uid = k8s_cluster.json("get", "configmap", "owner", "-n", ns)["metadata"]["uid"]
    owned = job(
        "owned",
        {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": TESTBOX, "command": ["true"]}],
        },
        suspend=True,
    )
    owned["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}
    ]
    k8s_cluster.apply(owned, namespace=ns)
    k8s_cluster.run("delete", "configmap", "owner", "-n", ns)
    k8s_cluster.wait_for(
        "the owned job to be collected",
        lambda: k8s_cluster.run("get", "job", "owned", "-n", ns, check=False).returncode != 0,
        timeout=60,
    )


def _egress_rejected(chain: str) -> int:
    """Packets the cluster's egress chain has rejected so far."""
    out = subprocess.run(
        ["iptables", "-w", "-L", chain, "-n", "-v", "-x"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(int(line.split()[0]) for line in out.splitlines() if "REJECT" in line)


def test_pod_traffic_stays_on_the_machine(k8s_cluster: Cluster, ns: str) -> None:
    chain = "AUDIOTEXT-EGRESS"  # hack/cluster/lib.sh
    before = _egress_rejected(chain)
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): routed nowhere, and rejected here before it could be.
    probe = runner_pod(
        "egress",
        "if fetch http://192.0.2.1/; then echo LEFT; fi; "
        "if nslookup example.com; then echo RESOLVED; fi; echo probe-done",
    )
    k8s_cluster.apply(probe, namespace=ns)
    wait_pod_done(k8s_cluster, ns, "egress", timeout=90)
    logs = k8s_cluster.run("logs", "egress", "-n", ns).stdout
    assert "probe-done" in logs
    assert "LEFT" not in logs and "RESOLVED" not in logs, logs
    assert _egress_rejected(chain) > before  # the cluster's own rule refused it
