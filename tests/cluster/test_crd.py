"""The TranscriptionJob CRD on a real API server: users read its schema with ``kubectl explain``."""

from __future__ import annotations

import json

import pytest

from support.cluster import REPO_ROOT, Cluster

pytestmark = pytest.mark.k8s

CRD = REPO_ROOT / "crds" / "transcriptionjobs.audiotext.io.yaml"


@pytest.fixture(scope="module")
def cluster_with_crd(k8s_cluster: Cluster) -> Cluster:
    k8s_cluster.run("apply", "-f", str(CRD))
    k8s_cluster.run("wait", "--for=condition=Established", "crd/transcriptionjobs.audiotext.io")
    return k8s_cluster


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("tj.spec.audio", ["Where the audio is.", "url"]),
        ("tj.status.outputs", ["Output format to the URL of its transcript artifact."]),
    ],
)
def test_kubectl_explain_documents_the_resource(
    cluster_with_crd: Cluster, field: str, says: list[str]
) -> None:
    k8s_cluster = cluster_with_crd

    def explained() -> str | None:
        # The API server publishes a new CRD's OpenAPI schema a moment after it is established.
        done = k8s_cluster.run("explain", field, check=False)
        return done.stdout if done.returncode == 0 else None

    text = k8s_cluster.wait_for(f"kubectl explain {field}", explained, timeout=60)
    assert "KIND:" in text and "TranscriptionJob" in text
    for words in says:
        assert words in text, text


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"outputFormats": []}, "spec.outputFormats"),
        ({"outputFormats": ["srt", "srt"]}, "Duplicate value"),
        ({"outputFormats": ["pdf"]}, "Unsupported value"),
        ({"task": "summarise"}, "spec.task"),
        ({"gpus": 99}, "spec.gpus"),
        ({"decoding": {"beamSize": 0}}, "spec.decoding.beamSize"),
        ({"decoding": {"vad": {"threshold": 2}}}, "spec.decoding.vad.threshold"),
        ({"sharding": {"shardSeconds": 10}}, "shardSeconds must be 0 (no shards) or at least 30"),
        ({"sharding": {"maxParallel": 0}}, "spec.sharding.maxParallel"),
    ],
)
def test_the_api_server_refuses_an_invalid_spec(
    cluster_with_crd: Cluster, spec: dict[str, object], says: str
) -> None:
    resource = {
        "apiVersion": "audiotext.io/v1alpha1",
        "kind": "TranscriptionJob",
        "metadata": {"name": "invalid", "namespace": "default"},
        "spec": {"audio": {"url": "s3://bucket/a.flac"}, **spec},
    }
    done = cluster_with_crd.run(
        "apply", "--dry-run=server", "-f", "-", input=json.dumps(resource), check=False
    )
    assert done.returncode != 0 and says in done.stderr, done.stderr
