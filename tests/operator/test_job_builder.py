"""The pure Job builder: a TranscriptionJob and the operator's settings in, a batch/v1 Job out.

Table-driven and cluster-free: what the API server would receive is checked field by field.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from audiotext.config import Settings
from audiotext.jobs import exit_codes
from audiotext.kube import constants as k
from audiotext.operator.builders import build_job, job_name, owner_of, resource_label

JOB_ID = "0b6c1f3e-6a55-4f0e-9d1c-3a2f8e1d7c10"
GPU_TOLERATION = {
    "key": "nvidia.com/gpu",
    "operator": "Equal",
    "value": "present",
    "effect": "NoSchedule",
}
RUNNER_TOLERATION = {
    "key": "audiotext.io/runner",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}


def resource(name: str = "my-talk", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": k.API_VERSION,
        "kind": k.KIND,
        "metadata": {"name": name, "namespace": "media", "uid": "u-1"},
        "spec": {"audio": {"url": "s3://bucket/talk.flac"}, **spec},
    }


def settings(**values: Any) -> Settings:
    return Settings(**values)


def pod_spec(job: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = job["spec"]["template"]["spec"]
    return result


def container(job: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = pod_spec(job)["containers"][0]
    return result


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a", "my-talk", JOB_ID, "x" * 50, "y" * 63, "z" * 253, "long-" * 40 + "end"],
)
def test_job_names_are_deterministic_and_fit_a_label(name: str) -> None:
    first, second = job_name(name), job_name(name)
    assert first == second
    assert len(first) <= 63
    assert first.endswith("-worker")
    assert not first.startswith("-")


def test_long_names_that_share_a_prefix_get_different_jobs() -> None:
    prefix = "p" * 80
    assert job_name(prefix + "one") != job_name(prefix + "two")


def test_the_gateways_resources_name_their_job_after_the_job_id() -> None:
    assert job_name(JOB_ID) == f"{JOB_ID}-worker"


LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


@pytest.mark.parametrize(
    "name", ["a", "my-talk", "y" * 63, "z" * 64, "a." * 126 + "b", "long-" * 50 + "end"]
)
def test_any_resource_name_makes_a_valid_label_value(name: str) -> None:
    job = build_job(resource(name), JOB_ID, settings())
    value = job["metadata"]["labels"][k.LABEL_RESOURCE]
    assert value == resource_label(name)
    assert len(value) <= 63 and LABEL_VALUE.match(value), value
    assert value == name if len(name) <= 63 else value != name


def test_long_names_that_share_a_prefix_get_different_labels() -> None:
    prefix = "p" * 80
    assert resource_label(prefix + "one") != resource_label(prefix + "two")


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        (
            [{"apiVersion": k.API_VERSION, "kind": k.KIND, "name": "n" * 253, "uid": "u1"}],
            ("n" * 253, "u1"),
        ),
        (
            [
                {"apiVersion": "batch/v1", "kind": "CronJob", "name": "c", "uid": "u0"},
                {"apiVersion": k.API_VERSION, "kind": k.KIND, "name": "t", "uid": "u2"},
            ],
            ("t", "u2"),
        ),
        ([{"apiVersion": "other.io/v1", "kind": k.KIND, "name": "t", "uid": "u3"}], None),
        ([], None),
    ],
)
def test_the_owner_of_a_job_comes_from_its_owner_references(
    refs: list[dict[str, Any]], expected: tuple[str, str] | None
) -> None:
    assert owner_of({"metadata": {"ownerReferences": refs}}) == expected
    assert owner_of({"metadata": {}}) is None


# --- devices -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "runtime_class", "gpus", "runtime"),
    [
        ({"device": "gpu", "gpus": 1}, "", "1", None),
        ({"device": "gpu", "gpus": 2}, "nvidia", "2", "nvidia"),
        ({}, "nvidia", "1", "nvidia"),  # the CRD's default device is gpu
        ({"device": "cpu"}, "nvidia", None, None),
        ({"device": "cpu", "gpus": 1}, "", None, None),
        ({"device": "gpu", "gpus": 0}, "nvidia", None, None),
    ],
)
def test_gpu_jobs_get_limits_selector_toleration_and_runtime_class(
    spec: dict[str, Any], runtime_class: str, gpus: str | None, runtime: str | None
) -> None:
    job = build_job(resource(**spec), JOB_ID, settings(worker_runtime_class=runtime_class))
    pod = pod_spec(job)
    limits = container(job).get("resources", {}).get("limits", {})
    assert limits.get(k.GPU_RESOURCE) == gpus
    if gpus:
        assert pod["nodeSelector"][k.GPU_PRESENT_LABEL] == "true"
        assert GPU_TOLERATION in pod["tolerations"]
    else:
        assert k.GPU_PRESENT_LABEL not in pod.get("nodeSelector", {})
        assert GPU_TOLERATION not in pod.get("tolerations", [])
    assert pod.get("runtimeClassName") == runtime
    device = {e["name"]: e.get("value") for e in container(job)["env"]}["AUDIOTEXT_DEVICE"]
    assert device == ("cuda" if gpus else "cpu")


# --- scheduling defaults and per-job additions -------------------------------------------


@pytest.mark.parametrize(
    ("defaults", "per_job", "expected"),
    [
        ({}, None, None),
        ({"pool": "batch"}, None, {"pool": "batch"}),
        ({}, {"zone": "a"}, {"zone": "a"}),
        ({"pool": "batch"}, {"zone": "a"}, {"pool": "batch", "zone": "a"}),
        ({"pool": "batch"}, {"pool": "fast"}, {"pool": "fast"}),  # the resource wins
    ],
)
def test_node_selectors_add_the_resources_to_the_defaults(
    defaults: dict[str, str], per_job: dict[str, str] | None, expected: dict[str, str] | None
) -> None:
    spec: dict[str, Any] = {"device": "cpu"}
    if per_job is not None:
        spec["nodeSelector"] = per_job
    job = build_job(resource(**spec), JOB_ID, settings(worker_node_selector=defaults))
    assert pod_spec(job).get("nodeSelector") == expected


@pytest.mark.parametrize(
    ("defaults", "per_job", "expected"),
    [
        ([], None, None),
        ([RUNNER_TOLERATION], None, [RUNNER_TOLERATION]),
        ([], [RUNNER_TOLERATION], [RUNNER_TOLERATION]),
        ([RUNNER_TOLERATION], [RUNNER_TOLERATION], [RUNNER_TOLERATION]),  # no duplicates
        (
            [RUNNER_TOLERATION],
            [{"key": "spot", "operator": "Exists"}],
            [RUNNER_TOLERATION, {"key": "spot", "operator": "Exists"}],
        ),
    ],
)
def test_tolerations_add_the_resources_to_the_defaults(
    defaults: list[dict[str, Any]],
    per_job: list[dict[str, Any]] | None,
    expected: list[dict[str, Any]] | None,
) -> None:
    spec: dict[str, Any] = {"device": "cpu"}
    if per_job is not None:
        spec["tolerations"] = per_job
    job = build_job(resource(**spec), JOB_ID, settings(worker_tolerations=defaults))
    assert pod_spec(job).get("tolerations") == expected


@pytest.mark.parametrize(
    ("spec", "selector", "tolerated"),
    [
        (  # a CPU pool's selector and taint never keep a GPU job from its GPU node
            {"device": "gpu", "gpus": 1},
            {"pool": "all", k.GPU_PRESENT_LABEL: "true"},
            [GPU_TOLERATION],
        ),
        (
            {"device": "cpu"},
            {"pool": "all", "audiotext.io/runner": "true"},
            [RUNNER_TOLERATION],
        ),
    ],
)
def test_cpu_only_defaults_apply_to_cpu_jobs_only(
    spec: dict[str, Any], selector: dict[str, str], tolerated: list[dict[str, Any]]
) -> None:
    config = settings(
        worker_node_selector={"pool": "all"},
        worker_cpu_node_selector={"audiotext.io/runner": "true"},
        worker_cpu_tolerations=[RUNNER_TOLERATION],
    )
    pod = pod_spec(build_job(resource(**spec), JOB_ID, config))
    assert pod["nodeSelector"] == selector
    assert pod["tolerations"] == tolerated


@pytest.mark.parametrize(
    ("default", "per_job", "expected"),
    [("", "", None), ("batch-low", "", "batch-low"), ("batch-low", "urgent", "urgent")],
)
def test_the_resources_priority_class_wins_over_the_default(
    default: str, per_job: str, expected: str | None
) -> None:
    job = build_job(
        resource(priorityClassName=per_job), JOB_ID, settings(worker_priority_class=default)
    )
    assert pod_spec(job).get("priorityClassName") == expected


@pytest.mark.parametrize(
    ("default", "per_job", "queue"),
    [("", "", None), ("team-a", "", "team-a"), ("team-a", "team-b", "team-b"), ("", "b", "b")],
)
def test_a_kueue_queue_labels_the_job_and_creates_it_suspended(
    default: str, per_job: str, queue: str | None
) -> None:
    job = build_job(resource(queueName=per_job), JOB_ID, settings(worker_queue_name=default))
    assert job["metadata"]["labels"].get(k.KUEUE_QUEUE_LABEL) == queue
    assert job["spec"]["suspend"] is (queue is not None)


@pytest.mark.parametrize("priority", ["interactive", "batch"])
def test_a_priority_picks_the_kueue_workload_priority_class(priority: str) -> None:
    job = build_job(resource(queueName="team-a", priority=priority), JOB_ID, settings())
    assert job["metadata"]["labels"][k.KUEUE_PRIORITY_LABEL] == priority
    assert (
        k.KUEUE_PRIORITY_LABEL
        not in build_job(resource(), JOB_ID, settings())["metadata"]["labels"]
    )


# --- the Job's own policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "backoff", "deadline"),
    [({}, 2, 1800), ({"backoffLimit": 0, "activeDeadlineSeconds": 3}, 0, 3)],
)
def test_backoff_and_deadline_come_from_the_spec(
    spec: dict[str, Any], backoff: int, deadline: int
) -> None:
    job = build_job(resource(**spec), JOB_ID, settings(worker_ttl_seconds_after_finished=60))
    assert job["spec"]["backoffLimit"] == backoff
    assert job["spec"]["activeDeadlineSeconds"] == deadline
    assert job["spec"]["ttlSecondsAfterFinished"] == 60


def test_bad_input_fails_the_job_at_once_and_disruptions_are_not_counted() -> None:
    rules = build_job(resource(), JOB_ID, settings())["spec"]["podFailurePolicy"]["rules"]
    fail_job = next(r for r in rules if r["action"] == "FailJob")
    assert fail_job["onExitCodes"] == {
        "containerName": k.WORKER_CONTAINER,
        "operator": "In",
        "values": [exit_codes.BAD_INPUT],
    }
    ignore = next(r for r in rules if r["action"] == "Ignore")
    assert ignore["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]
    # A podFailurePolicy needs pods that are never restarted in place.
    assert build_job(resource(), JOB_ID, settings())["spec"]["template"]["spec"][
        "restartPolicy"
    ] == ("Never")


# --- the pod -------------------------------------------------------------------------------


def test_the_worker_runs_the_job_id_with_the_secret_as_its_environment() -> None:
    job = build_job(
        resource(model="small"),
        JOB_ID,
        settings(worker_image="localhost/audiotext-worker:dev", worker_secret="creds"),
    )
    worker = container(job)
    assert worker["name"] == k.WORKER_CONTAINER
    assert worker["image"] == "localhost/audiotext-worker:dev"
    assert [*worker["command"], *worker["args"]] == ["audiotext", "worker", JOB_ID]
    assert worker["envFrom"] == [{"secretRef": {"name": "creds"}}]
    assert {e["name"]: e["value"] for e in worker["env"]}["AUDIOTEXT_MODEL"] == "small"


def test_a_models_claim_is_mounted_read_only_as_the_model_dir() -> None:
    plain = build_job(resource(), JOB_ID, settings())
    assert [v["name"] for v in pod_spec(plain)["volumes"]] == ["tmp"]
    assert "AUDIOTEXT_MODEL_DIR" not in {e["name"] for e in container(plain)["env"]}
    job = build_job(resource(model="large-v3"), JOB_ID, settings(worker_models_claim="models"))
    volumes = {v["name"]: v for v in pod_spec(job)["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    mounts = {m["name"]: m for m in container(job)["volumeMounts"]}
    assert mounts["models"] == {"name": "models", "mountPath": "/models", "readOnly": True}
    env = {e["name"]: e["value"] for e in container(job)["env"]}
    assert env["AUDIOTEXT_MODEL_DIR"] == "/models" and env["AUDIOTEXT_MODEL"] == "large-v3"


def test_the_pod_meets_the_restricted_security_standard() -> None:
    job = build_job(resource(), JOB_ID, settings())
    pod, worker = pod_spec(job), container(job)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    context = worker["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    # A read-only root still needs somewhere to write: /tmp is an emptyDir.
    tmp = next(m for m in worker["volumeMounts"] if m["mountPath"] == "/tmp")
    volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    assert volume == {"name": tmp["name"], "emptyDir": {}}


def test_job_and_pods_carry_the_labels_the_operator_watches_by() -> None:
    job = build_job(resource("my-talk"), JOB_ID, settings())
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert labels[k.LABEL_JOB_ID] == JOB_ID
        assert labels[k.LABEL_RESOURCE] == "my-talk"
        assert labels[k.LABEL_MANAGED_BY] == k.MANAGED_BY
    assert job["metadata"]["name"] == job_name("my-talk")
    assert job["metadata"]["namespace"] == "media"


@pytest.mark.parametrize(
    ("configured", "gpu", "expected"),
    [
        ({}, False, None),
        ({"limits": {"memory": "1Gi"}}, False, {"limits": {"memory": "1Gi"}}),
        (
            {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}},
            True,
            {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi", "nvidia.com/gpu": "1"}},
        ),
    ],
)
def test_worker_resources_come_from_the_settings(
    configured: dict[str, Any], gpu: bool, expected: dict[str, Any] | None
) -> None:
    spec = {"device": "gpu", "gpus": 1} if gpu else {"device": "cpu"}
    job = build_job(resource(**spec), JOB_ID, settings(worker_resources=configured))
    assert (container(job).get("resources") or None) == expected


def test_building_changes_neither_the_resource_nor_the_settings() -> None:
    body = resource(
        device="gpu",
        nodeSelector={"zone": "a"},
        tolerations=[{"key": "spot", "operator": "Exists"}],
    )
    config = settings(
        worker_node_selector={"pool": "batch"},
        worker_tolerations=[RUNNER_TOLERATION],
        worker_resources={"limits": {"memory": "1Gi"}},
    )
    before_body, before_config = copy.deepcopy(body), config.model_copy(deep=True)
    build_job(body, JOB_ID, config)
    build_job(body, JOB_ID, config)
    assert body == before_body
    assert config == before_config
    assert build_job(body, JOB_ID, config) == build_job(body, JOB_ID, config)


def test_a_long_recording_is_an_indexed_job_of_one_pod_per_shard() -> None:
    settings = Settings(shard_seconds=600)
    job = build_job(resource(backoffLimit=3), JOB_ID, settings, shards=8, parallel=3)
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 8, 3)
    # Each index retries alone, as many times as the whole Job would have.
    assert spec["backoffLimitPerIndex"] == 3 and "backoffLimit" not in spec
    env = {e["name"]: e["value"] for e in spec["template"]["spec"]["containers"][0]["env"]}
    assert env[k.SHARDS_ENV] == "8" and env["AUDIOTEXT_SHARD_SECONDS"] == "600.0"
    assert (
        spec["podFailurePolicy"]
        == build_job(resource(), JOB_ID, settings)["spec"]["podFailurePolicy"]
    )
    assert build_job(resource(), JOB_ID, settings, shards=4)["spec"]["parallelism"] == 4
    single = build_job(resource(), JOB_ID, settings, shards=1)["spec"]
    assert "completionMode" not in single and single["backoffLimit"] == 2
