"""The CRD and RBAC manifests agree with the code that relies on them (no cluster needed).

The API server checks the manifests' syntax (the e2e tests apply them); these tests check
their meaning: the names in kube/constants.py, the defaults the builder assumes, and that each
service account may do what its code does and nothing more.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml

from audiotext.jobs.choices import PRIORITIES
from audiotext.jobs.decoding import BEAM_SIZES, MAX_HOTWORDS, MAX_PROMPT, VAD_PARAMETERS
from audiotext.kube import constants as k

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "transcriptionjobs.audiotext.io.yaml"


@functools.cache
def crd() -> dict[str, Any]:
    result: dict[str, Any] = yaml.safe_load(CRD.read_text())
    return result


def version() -> dict[str, Any]:
    (only,) = crd()["spec"]["versions"]
    result: dict[str, Any] = only
    return result


def schema(part: str) -> dict[str, Any]:
    result: dict[str, Any] = version()["schema"]["openAPIV3Schema"]["properties"][part]
    return result


def rules(file: str, kind: str) -> list[dict[str, Any]]:
    for obj in yaml.safe_load_all((ROOT / "rbac" / file).read_text()):
        if obj["kind"] == kind:
            result: list[dict[str, Any]] = obj["rules"]
            return result
    raise AssertionError(f"no {kind} in rbac/{file}")


def allowed(file: str, kind: str, group: str, resource: str) -> set[str]:
    verbs: set[str] = set()
    for rule in rules(file, kind):
        if group in rule["apiGroups"] and resource in rule["resources"]:
            verbs.update(rule["verbs"])
    return verbs


def test_the_crd_uses_the_names_of_the_contract() -> None:
    spec = crd()["spec"]
    assert crd()["metadata"]["name"] == f"{k.PLURAL}.{k.GROUP}"
    assert spec["group"] == k.GROUP
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == k.KIND
    assert spec["names"]["plural"] == k.PLURAL
    assert spec["names"]["shortNames"] == [k.SHORT_NAME]
    assert spec["names"]["categories"] == [k.CATEGORY]
    assert version()["name"] == k.VERSION
    assert version()["served"] and version()["storage"]
    assert version()["subresources"] == {"status": {}}


def test_kubectl_get_shows_phase_model_progress_duration_and_age() -> None:
    columns = {c["name"]: c for c in version()["additionalPrinterColumns"]}
    for name, path in [
        ("Phase", ".status.phase"),
        ("Model", ".status.model"),  # spec.model or the default the operator chose
        ("Progress", ".status.progress"),
        ("Duration", ".status.audioDurationSeconds"),
        ("Age", ".metadata.creationTimestamp"),
    ]:
        assert columns[name]["jsonPath"] == path
        assert columns[name].get("priority", 0) == 0  # shown without -o wide


def test_kubectl_get_wide_shows_the_speakers_found() -> None:
    columns = {c["name"]: c for c in version()["additionalPrinterColumns"]}
    assert columns["Speakers"]["jsonPath"] == ".status.speakers"
    assert columns["Speakers"]["priority"] == 1  # with -o wide


def test_the_spec_has_every_documented_field_and_is_immutable() -> None:
    spec = schema("spec")
    assert set(spec["properties"]) == {
        "audio",
        "model",
        "language",
        "task",
        "outputFormats",
        "device",
        "gpus",
        "nodeSelector",
        "tolerations",
        "priorityClassName",
        "queueName",
        "priority",
        "activeDeadlineSeconds",
        "backoffLimit",
        "diarization",
        "decoding",
        "sharding",
    }
    assert tuple(spec["properties"]["priority"]["enum"]) == PRIORITIES
    sharding = spec["properties"]["sharding"]["properties"]
    assert set(sharding) == {field for _, field in k.SHARDING_FIELDS}
    assert sharding["maxParallel"]["minimum"] == 1
    assert set(spec["properties"]["diarization"]["properties"]) == {
        "enabled",
        "minSpeakers",
        "maxSpeakers",
    }
    # spec.decoding has the API's decoding options, with the API's bounds (jobs.decoding).
    decoding = spec["properties"]["decoding"]["properties"]
    assert set(decoding) == {field for _, field in k.DECODING_FIELDS} | {"vad"}
    assert decoding["prompt"]["maxLength"] == MAX_PROMPT
    assert decoding["hotwords"]["maxLength"] == MAX_HOTWORDS
    assert (decoding["beamSize"]["minimum"], decoding["beamSize"]["maximum"]) == BEAM_SIZES
    vad = decoding["vad"]["properties"]
    assert set(vad) == {field for _, field in k.VAD_FIELDS} | {"enabled"}
    for option, field in k.VAD_FIELDS:
        bounds = (vad[field]["minimum"], vad[field]["maximum"])
        assert bounds == VAD_PARAMETERS[option][1:], field
    assert spec["required"] == ["audio"]
    assert {"rule": "self == oldSelf"}.items() <= spec["x-kubernetes-validations"][0].items()


@pytest.mark.parametrize(
    ("field", "default"),
    [
        # The builder falls back to the same values for objects stored before a default existed.
        ("task", "transcribe"),
        ("device", "gpu"),
        ("gpus", 1),
        ("activeDeadlineSeconds", 1800),
        ("backoffLimit", 2),
        ("outputFormats", ["txt", "json", "srt", "vtt"]),
    ],
)
def test_spec_defaults(field: str, default: Any) -> None:
    assert schema("spec")["properties"][field]["default"] == default


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("task", ["transcribe", "translate"]),
        ("device", ["gpu", "cpu"]),
    ],
)
def test_spec_enums(field: str, values: list[str]) -> None:
    assert schema("spec")["properties"][field]["enum"] == values


def test_the_status_phases_are_the_operators() -> None:
    phases = set(schema("status")["properties"]["phase"]["enum"])
    assert phases == {
        k.PHASE_PENDING,
        k.PHASE_QUEUED,
        k.PHASE_RUNNING,
        *k.FINAL_PHASES,
    }


def test_the_status_has_every_documented_field() -> None:
    documented = {
        "phase",
        "conditions",
        "jobName",
        "startTime",
        "completionTime",
        "attempts",
        "progress",
        "message",
        "language",
        "audioDurationSeconds",
        "outputs",
    }
    assert documented <= set(schema("status")["properties"])


def test_every_field_explains_itself_in_kubectl_explain() -> None:
    def undocumented(node: dict[str, Any], path: str) -> list[str]:
        missing = [] if "description" in node or path.count(".") > 2 else [path]
        for name, child in (node.get("properties") or {}).items():
            missing += undocumented(child, f"{path}.{name}")
        return missing

    assert undocumented(schema("spec"), "spec") == []
    assert undocumented(schema("status"), "status") == []


# --- RBAC ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "resource", "needed"),
    [
        (k.GROUP, k.PLURAL, {"get", "list", "watch", "patch"}),  # kopf watches and annotates
        (k.GROUP, f"{k.PLURAL}/status", {"patch"}),
        # Owner references with blockOwnerDeletion (kopf.adopt), under OwnerReferences-
        # PermissionEnforcement.
        (k.GROUP, f"{k.PLURAL}/finalizers", {"update"}),
        ("batch", "jobs", {"get", "list", "watch", "create", "delete"}),  # get: whose Job (409)
        ("", "pods", {"list", "delete"}),  # termination messages; restarting hung workers
        ("", "events", {"create"}),  # kubectl describe tj
    ],
)
def test_the_operator_may_do_what_it_does(group: str, resource: str, needed: set[str]) -> None:
    assert needed <= allowed("operator.yaml", "ClusterRole", group, resource)


@pytest.mark.parametrize(
    ("group", "resource", "forbidden"),
    [
        (k.GROUP, k.PLURAL, {"delete", "deletecollection", "update", "*"}),
        ("batch", "jobs", {"update", "patch", "*"}),
        ("", "pods", {"create", "patch", "update", "*"}),
        ("", "secrets", {"get", "list", "watch", "*"}),  # the worker Secret is the pods' alone
    ],
)
def test_the_operator_may_do_nothing_more(group: str, resource: str, forbidden: set[str]) -> None:
    assert not forbidden & allowed("operator.yaml", "ClusterRole", group, resource)


def test_the_gateway_only_writes_transcription_jobs() -> None:
    assert allowed("gateway.yaml", "Role", k.GROUP, k.PLURAL) == {
        "create",
        "get",
        "list",
        "patch",
    }
    granted = {
        (g, r)
        for rule in rules("gateway.yaml", "Role")
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert granted == {(k.GROUP, k.PLURAL)}  # never Jobs, pods or secrets


def test_no_rule_uses_wildcards() -> None:
    for file, kind in [("operator.yaml", "ClusterRole"), ("gateway.yaml", "Role")]:
        for rule in rules(file, kind):
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], (file, rule)


# --- kopf's bookkeeping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "seen"),
    [
        (k.KOPF_PREFIX, True),
        (k.GROUP, False),  # why kopf has a prefix of its own: ours would hide the cancel request
    ],
)
def test_kopf_sees_the_cancel_annotation_only_under_a_prefix_of_its_own(
    prefix: str, seen: bool
) -> None:
    storage = kopf.AnnotationsDiffBaseStorage(prefix=prefix, key="last-handled-configuration")
    body = kopf.Body(
        {
            "metadata": {
                "name": "my-talk",
                "annotations": {f"{prefix}/kopf-managed": "yes", k.ANNOTATION_CANCEL: "true"},
            },
            "spec": {"audio": {"url": "s3://bucket/talk.flac"}},
        }
    )
    annotations = storage.build(body=body).get("metadata", {}).get("annotations", {})
    assert (k.ANNOTATION_CANCEL in annotations) is seen
