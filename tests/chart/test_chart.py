"""The Helm chart (charts/audiotext): lint, rendered manifests, schema, and the real cluster.

Every test is marked ``helm``: it needs the helm binary (the test cluster's, built by
hack/cluster/build.sh when missing). Tests also marked ``k8s`` validate and install the
chart on the test cluster.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "audiotext"
DEV_VALUES = CHART / "values-dev.yaml"
GPU_VALUES = CHART / "values-gpu.yaml"
RELEASE = "audiotext"
NAMESPACE = "audiotext"
VALUE_SETS = {
    "default": [],
    "dev": ["-f", str(DEV_VALUES)],
    "gpu": ["-f", str(GPU_VALUES)],
    "dev+gpu": ["-f", str(DEV_VALUES), "-f", str(GPU_VALUES)],
    # The API server checks these against the real Kueue's CRDs and webhooks.
    "kueue": [
        "--set",
        "kueue.enabled=true",
        "--set-json",
        'kueue.tenants=[{"name": "team-a", "weight": "2", "quota": {"nvidia.com/gpu": 1}}]',
    ],
}
# Every optional part switched on (the ServiceMonitor needs CRDs the test cluster lacks).
EVERYTHING = [
    "--set",
    "gateway.ingress.enabled=true",
    "--set",
    "gateway.autoscaling.enabled=true",
    "--set",
    "database.url=postgresql+psycopg://u:p@db:5432/audiotext",
    "--set",
    "redis.url=redis://redis:6379/0",
    "--set",
    "s3.storageUrl=s3://bucket/jobs",
    "--set",
    "realtime.enabled=true",
]
# The settings the pods' environment may carry in plain text; everything else is in Secrets.
SECRET_KEYS = {
    "AUDIOTEXT_DATABASE_URL",
    "AUDIOTEXT_REDIS_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AUDIOTEXT_WEBHOOK_SECRET",
    "AUDIOTEXT_SECRET_KEY",
}
Manifest = dict[str, Any]
pytestmark = pytest.mark.helm


# --- helm --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def helm() -> Path:
    """The test cluster's helm; hack/cluster/build.sh builds it (and the rest) when missing."""
    linked = ROOT / ".cluster" / "bin" / "helm"
    if linked.exists():
        return linked
    proc = subprocess.run(
        ["bash", str(ROOT / "hack" / "cluster" / "build.sh")],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    built = Path(lines[-1]) / "helm" if lines else None
    if proc.returncode != 0 or built is None or not built.exists():
        pytest.fail(f"no helm binary: hack/cluster/build.sh failed:\n{proc.stderr[-3000:]}")
    return built


def run_helm(helm: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(helm), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def render_text(helm: Path, *args: str, namespace: str = NAMESPACE) -> str:
    return run_helm(helm, "template", RELEASE, str(CHART), "--namespace", namespace, *args).stdout


def render(helm: Path, *args: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(render_text(helm, *args)) if doc]


def find(manifests: list[Manifest], kind: str, suffix: str = "") -> Manifest:
    name = f"{RELEASE}-{suffix}" if suffix else RELEASE
    for m in manifests:
        if m["kind"] == kind and m["metadata"]["name"] == name:
            return m
    raise AssertionError(
        f"no {kind} {name} in {[(m['kind'], m['metadata']['name']) for m in manifests]}"
    )


def pod_specs(manifests: list[Manifest]) -> Iterator[tuple[str, Manifest]]:
    for m in manifests:
        if m["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield f"{m['kind']}/{m['metadata']['name']}", m["spec"]["template"]["spec"]


def decoded(secret: Manifest) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def config(manifests: list[Manifest]) -> dict[str, str]:
    data: dict[str, str] = find(manifests, "ConfigMap")["data"]
    return data


@pytest.fixture(scope="module")
def default(helm: Path) -> list[Manifest]:
    return render(helm)


@pytest.fixture(scope="module")
def dev(helm: Path) -> list[Manifest]:
    return render(helm, *VALUE_SETS["dev"])


@pytest.fixture(scope="module")
def gpu(helm: Path) -> list[Manifest]:
    return render(helm, *VALUE_SETS["gpu"])


# --- lint and values -----------------------------------------------------------------------


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_lint_strict(helm: Path, value_set: str) -> None:
    proc = run_helm(helm, "lint", "--strict", str(CHART), *VALUE_SETS[value_set], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["name"] == "audiotext"
    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"].startswith(">=")


def test_every_value_is_documented() -> None:
    """Each value in values.yaml has a `# --` comment, on itself or on a map around it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    parents: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    for number, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):(.*)$", line)
        if not match:
            continue
        indent = len(match.group(1))
        while parents and parents[-1][0] >= indent:
            parents.pop()
        comments = []
        back = number - 1
        while back >= 0 and lines[back].strip().startswith("#"):
            comments.append(lines[back])
            back -= 1
        documented = any("# --" in c for c in comments) or any(d for _, d in parents)
        is_plain_map = not match.group(3).strip()
        if not documented and not is_plain_map:
            undocumented.append(f"{number + 1}: {line.strip()}")
        parents.append((indent, documented))
    assert not undocumented, "values without a '# --' comment:\n" + "\n".join(undocumented)


def test_crd_is_the_top_level_crd() -> None:
    top = sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))
    chart = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    assert top and top == chart, f"charts/audiotext/crds {chart} != crds {top}"
    for name in top:
        assert (CHART / "crds" / name).read_bytes() == (ROOT / "crds" / name).read_bytes(), (
            f"charts/audiotext/crds/{name} differs from crds/{name}: copy it"
        )


def _rules(manifests: list[Manifest]) -> dict[tuple[str, str], list[Manifest]]:
    """Rules of each Role/ClusterRole, keyed by (kind, component), in a canonical order."""
    out: dict[tuple[str, str], list[Manifest]] = {}
    for m in manifests:
        if m["kind"] in ("Role", "ClusterRole"):
            component = m["metadata"]["labels"]["app.kubernetes.io/component"]
            rules = [
                {k: sorted(v) for k, v in rule.items() if isinstance(v, list)}
                for rule in m["rules"]
            ]
            out[(m["kind"], component)] = sorted(rules, key=json.dumps)
    return out


def test_rbac_rules_are_those_of_rbac_dir(default: list[Manifest]) -> None:
    top: list[Manifest] = []
    for path in sorted((ROOT / "rbac").glob("*.yaml")):
        top += [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert top, "rbac/ has no manifests"
    assert _rules(default) == _rules(top)
    # Each binding names the ServiceAccount that the matching Deployment runs as.
    for component in ("gateway", "operator"):
        deployment = find(default, "Deployment", component)
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        bindings = [
            m
            for m in default
            if m["kind"] in ("RoleBinding", "ClusterRoleBinding")
            and m["metadata"]["labels"]["app.kubernetes.io/component"] == component
        ]
        assert bindings and all(b["subjects"][0]["name"] == account for b in bindings)


def test_an_operator_of_some_namespaces_gets_roles_there_alone(
    helm: Path, default: list[Manifest]
) -> None:
    watched = render(helm, "--set", "operator.watchNamespaces={team-a,team-b}")
    cluster_role = find(watched, "ClusterRole", "operator")
    # Cluster-wide it only reads what kopf discovers: CRDs and namespaces.
    assert {r for rule in cluster_role["rules"] for r in rule["resources"]} == {
        "customresourcedefinitions",
        "namespaces",
    }
    everywhere = _rules(default)[("ClusterRole", "operator")]
    roles = [
        m
        for m in watched
        if m["kind"] == "Role"
        and m["metadata"]["labels"]["app.kubernetes.io/component"] == "operator"
    ]
    assert sorted(m["metadata"]["namespace"] for m in roles) == ["team-a", "team-b"]
    for role in roles:
        # Together with the ClusterRole: the same rules as the cluster-wide operator's.
        combined = {**role, "rules": role["rules"] + cluster_role["rules"]}
        assert _rules([combined])[("Role", "operator")] == everywhere
    bindings = {
        m["metadata"]["namespace"]
        for m in watched
        if m["kind"] == "RoleBinding" and m["roleRef"]["name"] == role["metadata"]["name"]
    }
    assert bindings == {"team-a", "team-b"}


def test_kind_config() -> None:
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster"
    roles = [n["role"] for n in config["nodes"]]
    assert roles == ["control-plane", "worker"]
    worker = config["nodes"][1]
    assert worker["labels"] == {"nvidia.com/gpu.present": "true"}
    join = yaml.safe_load(worker["kubeadmConfigPatches"][0])
    assert join["nodeRegistration"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]


# --- rendered manifests --------------------------------------------------------------------


def test_default_values_render_the_whole_service(default: list[Manifest]) -> None:
    kinds = {(m["kind"], m["metadata"]["name"]) for m in default}
    for expected in [
        ("Deployment", "audiotext-gateway"),
        ("Deployment", "audiotext-operator"),
        ("Service", "audiotext-gateway"),
        ("ServiceAccount", "audiotext-gateway"),
        ("ServiceAccount", "audiotext-operator"),
        ("ConfigMap", "audiotext"),
        ("Secret", "audiotext"),
        ("Secret", "audiotext-worker"),
        ("NetworkPolicy", "audiotext-gateway"),
        ("PodDisruptionBudget", "audiotext-gateway"),
    ]:
        assert expected in kinds
    # Nothing optional, and no migration hook without a database to migrate.
    assert not {"Ingress", "HorizontalPodAutoscaler", "ServiceMonitor", "Job"} & {
        m["kind"] for m in default
    }
    env = config(default)
    assert env["AUDIOTEXT_HOST"] == "0.0.0.0"
    assert env["AUDIOTEXT_PORT"] == "3203"
    assert env["AUDIOTEXT_EXECUTOR"] == "kubernetes"
    assert env["AUDIOTEXT_AUTH"] == "true"
    assert env["AUDIOTEXT_NAMESPACE"] == NAMESPACE
    assert env["AUDIOTEXT_WORKER_SECRET"] == "audiotext-worker"
    assert env["AUDIOTEXT_WORKER_IMAGE"] == "localhost/audiotext-worker:dev"
    service = find(default, "Service", "gateway")
    assert service["spec"]["ports"][0]["port"] == 3203


def test_gateway_deployment(default: list[Manifest]) -> None:
    deployment = find(default, "Deployment", "gateway")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "localhost/audiotext-api:dev"
    assert container["args"] == ["audiotext", "api"]
    assert container["ports"] == [{"name": "http", "containerPort": 3203, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", "/data"}
    assert deployment["spec"]["replicas"] == 2
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/config"])
    assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/secret"])


def test_a_gateway_on_its_own_sqlite_file_migrates_it_first(
    default: list[Manifest], helm: Path
) -> None:
    """`audiotext api` never migrates: a shared database has the hook, a pod-local one this."""
    pod = find(default, "Deployment", "gateway")["spec"]["template"]["spec"]
    (migrate,) = pod["initContainers"]
    assert migrate["args"] == ["audiotext", "migrate"]
    assert migrate["envFrom"] == pod["containers"][0]["envFrom"]
    assert {m["mountPath"] for m in migrate["volumeMounts"]} == {"/tmp", "/data"}
    shared = render(helm, *EVERYTHING, "--set", "s3.endpoint=https://s3.example.test")
    assert "initContainers" not in find(shared, "Deployment", "gateway")["spec"]["template"]["spec"]


def test_operator_deployment(default: list[Manifest]) -> None:
    deployment = find(default, "Deployment", "operator")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "localhost/audiotext-operator:dev"
    assert container["args"] == ["audiotext", "operator"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["ports"][0]["containerPort"] == 8080
    assert config(default)["AUDIOTEXT_OPERATOR_HEALTH_PORT"] == "8080"


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_standard_labels_everywhere(helm: Path, value_set: str) -> None:
    for m in render(helm, *VALUE_SETS[value_set]):
        labels = m["metadata"]["labels"]
        where = f"{m['kind']}/{m['metadata']['name']}"
        assert labels["app.kubernetes.io/name"] == "audiotext", where
        assert labels["app.kubernetes.io/instance"] == RELEASE, where
        assert labels["app.kubernetes.io/managed-by"] == "Helm", where
        assert labels["app.kubernetes.io/version"], where
        assert labels["helm.sh/chart"].startswith("audiotext-"), where
        assert labels["app.kubernetes.io/component"], where


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_restricted_security_context_everywhere(helm: Path, value_set: str) -> None:
    specs = list(pod_specs(render(helm, *VALUE_SETS[value_set], *EVERYTHING)))
    assert specs
    for where, pod in specs:
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, where
        assert context["runAsUser"] > 0, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in pod["containers"] + pod.get("initContainers", []):
            c = container["securityContext"]
            assert c["allowPrivilegeEscalation"] is False, where
            assert c["capabilities"] == {"drop": ["ALL"]}, where
            assert c["readOnlyRootFilesystem"] is True, where
            assert container.get("resources", {}).get("requests"), where
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, where


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_no_secret_in_a_pod_spec(helm: Path, value_set: str) -> None:
    """Credentials reach pods only through Secrets: no plain env value, no ConfigMap key."""
    manifests = render(helm, *VALUE_SETS[value_set], *EVERYTHING)
    assert not SECRET_KEYS & set(config(manifests))
    for where, pod in pod_specs(manifests):
        for container in pod["containers"]:
            for env in container.get("env", []):
                assert env["name"] not in SECRET_KEYS or "valueFrom" in env, where
                assert "password" not in env["name"].lower() or "valueFrom" in env, where
    text = render_text(helm, *VALUE_SETS[value_set], *EVERYTHING)
    assert "postgresql+psycopg://u:p@db" not in text  # only base64 inside Secrets


def test_checksums_follow_config_and_secrets(helm: Path) -> None:
    def checksums(*args: str) -> dict[str, str]:
        deployment = find(render(helm, *args), "Deployment", "operator")
        annotations: dict[str, str] = deployment["spec"]["template"]["metadata"]["annotations"]
        return annotations

    base = checksums()
    new_secret = checksums("--set", "redis.url=redis://elsewhere:6379/0")
    new_config = checksums("--set", "worker.model=small")
    assert base["checksum/secret"] != new_secret["checksum/secret"]
    assert base["checksum/config"] != new_config["checksum/config"]
    assert base["checksum/secret"] == new_config["checksum/secret"]


def test_dev_values_run_and_wire_the_dev_servers(dev: list[Manifest]) -> None:
    for server, image in (
        ("postgresql", "postgres:16-alpine"),
        ("redis", "redis:7-alpine"),
        ("minio", "minio/minio:"),
    ):
        deployment = find(dev, "Deployment", server)
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].startswith(image)
        find(dev, "Service", server)
        find(dev, "NetworkPolicy", server)
    secret = decoded(find(dev, "Secret"))
    assert secret["AUDIOTEXT_DATABASE_URL"] == (
        "postgresql+psycopg://audiotext:audiotext-dev@audiotext-postgresql.audiotext.svc:5432/audiotext"
    )
    assert secret["AUDIOTEXT_REDIS_URL"] == "redis://audiotext-redis.audiotext.svc:6379/0"
    assert secret["AWS_ACCESS_KEY_ID"] == "audiotext"
    env = config(dev)
    assert env["AUDIOTEXT_STORAGE_URL"] == "s3://audiotext/jobs"
    assert env["AWS_ENDPOINT_URL"] == "http://audiotext-minio.audiotext.svc:9000"
    worker = decoded(find(dev, "Secret", "worker"))
    assert {
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AUDIOTEXT_DATABASE_URL",
        "AUDIOTEXT_REDIS_URL",
        "AUDIOTEXT_STORAGE_URL",
    } <= set(worker)
    assert worker["AUDIOTEXT_DATABASE_URL"] == secret["AUDIOTEXT_DATABASE_URL"]
    # The release's own PostgreSQL exists only after install: the migration runs then.
    job = find(dev, "Job", "migrate")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["audiotext", "migrate"]


def test_dev_server_images_can_be_overridden(helm: Path) -> None:
    manifests = render(
        helm, *VALUE_SETS["dev"], "--set", "dev.postgresql.image=mirror/postgres:16-alpine"
    )
    pod = find(manifests, "Deployment", "postgresql")["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "mirror/postgres:16-alpine"


def test_external_backends_and_migration_hook(helm: Path) -> None:
    manifests = render(helm, *EVERYTHING, "--set", "s3.endpoint=https://s3.example.test")
    job = find(manifests, "Job", "migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    # Before install the chart's Secret does not exist yet: the hook brings its own, first.
    hook_secret = find(manifests, "Secret", "migrate")
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        annotations["helm.sh/hook-weight"]
    )
    assert decoded(hook_secret) == {
        "AUDIOTEXT_DATABASE_URL": "postgresql+psycopg://u:p@db:5432/audiotext"
    }
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "audiotext-migrate"}}]
    assert pod["automountServiceAccountToken"] is False
    assert config(manifests)["AWS_ENDPOINT_URL"] == "https://s3.example.test"
    assert not any(
        m["kind"] == "Deployment" and "postgresql" in m["metadata"]["name"] for m in manifests
    )


def test_existing_secrets(helm: Path) -> None:
    manifests = render(
        helm,
        "--set",
        "existingSecret=my-backends",
        "--set",
        "worker.secret.existingSecret=my-worker-env",
    )
    names = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    assert ("Secret", "audiotext") not in names
    assert ("Secret", "audiotext-worker") not in names
    assert config(manifests)["AUDIOTEXT_WORKER_SECRET"] == "my-worker-env"
    for component in ("gateway", "operator"):
        pod = find(manifests, "Deployment", component)["spec"]["template"]["spec"]
        assert {"secretRef": {"name": "my-backends"}} in pod["containers"][0]["envFrom"]
    job = find(manifests, "Job", "migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [
        {"secretRef": {"name": "my-backends"}}
    ]


def test_gpu_values(gpu: list[Manifest]) -> None:
    env = config(gpu)
    assert env["AUDIOTEXT_WORKER_DEVICE"] == "gpu"
    assert env["AUDIOTEXT_WORKER_GPUS"] == "1"
    assert env["AUDIOTEXT_WORKER_RUNTIME_CLASS"] == "nvidia"
    assert json.loads(env["AUDIOTEXT_WORKER_NODE_SELECTOR"]) == {"nvidia.com/gpu.present": "true"}
    assert json.loads(env["AUDIOTEXT_WORKER_TOLERATIONS"]) == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    ]
    assert env["AUDIOTEXT_WORKER_IMAGE"] == "localhost/audiotext-worker:gpu"
    assert json.loads(env["AUDIOTEXT_WORKER_RESOURCES"])["limits"]["memory"] == "8Gi"


def test_kueue_values_make_the_queueing_objects(helm: Path) -> None:
    manifests = render(helm, *VALUE_SETS["kueue"])
    assert config(manifests)["AUDIOTEXT_WORKER_QUEUE_NAME"] == "audiotext"
    flavor = find(manifests, "ResourceFlavor", "gpu")
    assert flavor["spec"]["nodeLabels"] == {"nvidia.com/gpu.present": "true"}
    shared = find(manifests, "ClusterQueue")["spec"]
    tenant = find(manifests, "ClusterQueue", "team-a")["spec"]
    assert shared["cohortName"] == tenant["cohortName"] == RELEASE
    (group,) = shared["resourceGroups"]
    assert group["coveredResources"] == ["cpu", "memory", "nvidia.com/gpu"]
    quota = {r["name"]: r["nominalQuota"] for r in group["flavors"][0]["resources"]}
    assert quota == {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"}
    (tenant_group,) = tenant["resourceGroups"]
    tenant_quota = {r["name"]: r["nominalQuota"] for r in tenant_group["flavors"][0]["resources"]}
    assert tenant_quota == {"cpu": "0", "memory": "0", "nvidia.com/gpu": "1"}
    assert tenant["fairSharing"] == {"weight": "2"}
    queues = {
        m["metadata"]["name"]: m["spec"]["clusterQueue"]
        for m in manifests
        if m["kind"] == "LocalQueue" and m["metadata"]["namespace"] == NAMESPACE
    }
    assert queues == {"audiotext": RELEASE, "team-a": f"{RELEASE}-team-a"}
    priorities = {
        m["metadata"]["name"]: m["value"] for m in manifests if m["kind"] == "WorkloadPriorityClass"
    }
    assert priorities == {"interactive": 1000, "batch": 100}
    assert not [m for m in render(helm) if m["apiVersion"].startswith("kueue.x-k8s.io/")]


def test_the_realtime_deployment_serves_the_gateways_live_sessions(helm: Path) -> None:
    manifests = render(
        helm,
        *("--set", "realtime.enabled=true", "--set", "realtime.device=gpu"),
        *("--set", "realtime.decodes=3"),
    )
    assert config(manifests)["AUDIOTEXT_REALTIME_URL"] == f"ws://{RELEASE}-realtime:3204"
    deployment = find(manifests, "Deployment", "realtime")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["audiotext", "realtime"]
    assert container["image"] == "localhost/audiotext-worker:dev"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AUDIOTEXT_DEVICE"] == "cuda" and env["AUDIOTEXT_MODEL_TTL_SECONDS"] == "-1"
    assert env["AUDIOTEXT_REALTIME_DECODES"] == "3"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert find(manifests, "Service", "realtime")["spec"]["ports"][0]["port"] == 3204
    policy = find(manifests, "NetworkPolicy", "realtime")["spec"]["ingress"][0]["from"]
    assert policy[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
    off = render(helm)
    assert config(off)["AUDIOTEXT_REALTIME_URL"] == ""
    assert not [m for m in off if m["metadata"]["name"].endswith("-realtime")]


def test_optional_parts(helm: Path) -> None:
    manifests = render(
        helm,
        "--set",
        "gateway.ingress.enabled=true",
        "--set",
        "gateway.ingress.className=nginx",
        "--set",
        "gateway.autoscaling.enabled=true",
        "--set",
        "serviceMonitor.enabled=true",
        "--set",
        "gateway.podDisruptionBudget.enabled=false",
        "--set",
        "networkPolicy.enabled=false",
        "--set",
        "worker.image.digest=sha256:" + "a" * 64,
    )
    kinds = {m["kind"] for m in manifests}
    assert {"Ingress", "HorizontalPodAutoscaler", "ServiceMonitor"} <= kinds
    assert not {"PodDisruptionBudget", "NetworkPolicy"} & kinds
    ingress = find(manifests, "Ingress", "gateway")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "audiotext-gateway", "port": {"number": 3203}}
    assert "replicas" not in find(manifests, "Deployment", "gateway")["spec"]
    monitor = find(manifests, "ServiceMonitor", "gateway")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert (
        config(manifests)["AUDIOTEXT_WORKER_IMAGE"]
        == "localhost/audiotext-worker@sha256:" + "a" * 64
    )


def test_notes_say_what_is_missing(helm: Path, tmp_path: Path) -> None:
    # `helm template` does not render NOTES.txt and `helm install --dry-run` needs a cluster:
    # render a copy of the chart where NOTES.txt is wrapped into a manifest.
    chart = tmp_path / "audiotext"
    shutil.copytree(CHART, chart)
    notes_text = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "notes-check.yaml").write_text(
        '{{- define "notes-check" }}' + notes_text + "{{ end -}}\n"
        'notes: {{ include "notes-check" . | toJson }}\n'
    )

    def notes(*args: str) -> str:
        out = run_helm(
            helm,
            "template",
            RELEASE,
            str(chart),
            "-n",
            NAMESPACE,
            "-s",
            "templates/notes-check.yaml",
            *args,
        ).stdout
        text: str = yaml.safe_load(out)["notes"]
        return text

    unconfigured = notes()
    assert "WARNING: AudioText is not fully configured" in unconfigured
    for missing in ("database.url", "redis.url", "s3.storageUrl", "values-dev.yaml"):
        assert missing in unconfigured
    assert "audiotext keys create" in unconfigured
    configured = notes(*EVERYTHING)
    assert "WARNING" not in configured
    assert "port-forward svc/audiotext-gateway" in configured


SCHEMA_FAILURES = [
    (["--set", "gateway.replicaCount=-1"], "/gateway/replicaCount"),
    (["--set", "worker.device=tpu"], "/worker/device"),
    (["--set", "worker.gpus=many"], "/worker/gpus"),
    (["--set", "gateway.service.port=70000"], "/gateway/service/port"),
    (["--set", "gateway.image.pullPolicy=Sometimes"], "/gateway/image/pullPolicy"),
    (["--set", "database.url=mysql://db/audiotext"], "/database/url"),
    (["--set", "redis.url=localhost:6379"], "/redis/url"),
    (["--set", "s3.storageUrl=/var/data"], "/s3/storageUrl"),
    (["--set", "auth.enabled=maybe"], "/auth/enabled"),
    (["--set", "gateway.replicas=3"], "replicas"),  # a typo: unknown keys are refused
    (["--set", "podSecurityContext.runAsNonRoot=false"], "/podSecurityContext/runAsNonRoot"),
    (["--set", "extraEnv.bad-name=1"], "invalid propertyName 'bad-name'"),
    (["--set", "dev.postgresql.password=short"], "/dev/postgresql/password"),
]


@pytest.mark.parametrize(("args", "where"), SCHEMA_FAILURES, ids=[w for _, w in SCHEMA_FAILURES])
def test_schema_rejects_bad_values(helm: Path, args: list[str], where: str) -> None:
    proc = run_helm(helm, "template", RELEASE, str(CHART), *args, check=False)
    assert proc.returncode != 0
    assert "values don't meet the specifications of the schema" in proc.stderr
    assert where in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "existingSecret=mine"],
            "set worker.secret.existingSecret",
        ),
        (
            [
                "--set",
                "existingSecret=mine",
                "--set",
                "worker.secret.create=false",
                "--set",
                "database.url=postgresql://x@db/db",
            ],
            "leave database.url",
        ),
    ],
)
def test_inconsistent_values_fail_clearly(helm: Path, args: list[str], message: str) -> None:
    proc = run_helm(helm, "template", RELEASE, str(CHART), *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


# --- the real API server -------------------------------------------------------------------

KWOK_PLACEMENT = [
    f"--set-string={component}.nodeSelector.type=kwok"
    for component in ("gateway", "operator", "migrations", "dev")
]


@pytest.fixture
def restricted_namespace(k8s_cluster: Cluster) -> Iterator[str]:
    """A fresh namespace that enforces the restricted Pod Security Standard."""
    name = f"chart-{uuid.uuid4().hex[:8]}"
    k8s_cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
        }
    )
    yield name
    k8s_cluster.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.k8s
@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_api_server_accepts_every_manifest(
    helm: Path, k8s_cluster: Cluster, restricted_namespace: str, value_set: str
) -> None:
    # The CRD first (as helm does), so that its server-side validation runs too.
    k8s_cluster.run("apply", "-f", str(CHART / "crds"))
    text = render_text(
        helm,
        *VALUE_SETS[value_set],
        *EVERYTHING,
        "--kube-version",
        "1.34.0",
        namespace=restricted_namespace,
    )
    proc = k8s_cluster.run(
        "apply", "--dry-run=server", "-n", restricted_namespace, "-f", "-", input=text, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr  # pod security warnings included
    kinds = {line.split("/", 1)[0] for line in proc.stdout.splitlines()}
    assert "deployment.apps" in kinds and "job.batch" in kinds, proc.stdout


@pytest.mark.k8s
def test_helm_install_runs_on_kwok_nodes(
    helm: Path, k8s_cluster: Cluster, restricted_namespace: str
) -> None:
    """The chart installs with the dev values; its Deployments become Available."""
    release = f"at-{uuid.uuid4().hex[:6]}"
    env_args = ["--kubeconfig", str(k8s_cluster.kubeconfig), "-n", restricted_namespace]
    proc = subprocess.run(
        [
            str(helm),
            "install",
            release,
            str(CHART),
            *env_args,
            *VALUE_SETS["dev"],
            *KWOK_PLACEMENT,
            "--wait",
            "--wait-for-jobs",
            "--timeout",
            "4m",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "NOTES" in proc.stdout
        deployments = k8s_cluster.json("get", "deployments", "-n", restricted_namespace)["items"]
        names = {d["metadata"]["name"] for d in deployments}
        assert {f"{release}-audiotext-{c}" for c in ("gateway", "operator", "postgresql")} <= names
        for d in deployments:
            conditions = {c["type"]: c["status"] for c in d["status"].get("conditions", [])}
            assert conditions.get("Available") == "True", d["metadata"]["name"]
        pods = k8s_cluster.json("get", "pods", "-n", restricted_namespace)["items"]
        assert pods and {p["spec"]["nodeName"] for p in pods} <= {"cpu-node-0", "gpu-node-0"}
        # The migration hook ran and was cleaned up, with its Secret.
        leftovers = k8s_cluster.run(
            "get", "jobs,secrets", "-n", restricted_namespace, "-o", "name"
        ).stdout
        assert "migrate" not in leftovers
        status = run_helm(helm, "status", release, *env_args).stdout
        assert "STATUS: deployed" in status
    finally:
        subprocess.run(
            [str(helm), "uninstall", release, *env_args, "--wait", "--timeout", "2m"],
            capture_output=True,
            timeout=180,
            check=False,
        )
