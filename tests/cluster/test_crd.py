"""The TranscriptionJob CRD on a real API server: users read its schema with ``kubectl explain``."""

from __future__ import annotations

import pytest

from support.cluster import REPO_ROOT, Cluster

pytestmark = pytest.mark.k8s

CRD = REPO_ROOT / "crds" / "transcriptionjobs.audiotext.io.yaml"


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("tj.spec.audio", ["Where the audio is.", "url"]),
        ("tj.status.outputs", ["Output format to the URL of its transcript artifact."]),
    ],
)
def test_kubectl_explain_documents_the_resource(
    k8s_cluster: Cluster, field: str, says: list[str]
) -> None:
    k8s_cluster.run("apply", "-f", str(CRD))
    k8s_cluster.run("wait", "--for=condition=Established", "crd/transcriptionjobs.audiotext.io")

    def explained() -> str | None:
        # The API server publishes a new CRD's OpenAPI schema a moment after it is established.
        done = k8s_cluster.run("explain", field, check=False)
        return done.stdout if done.returncode == 0 else None

    text = k8s_cluster.wait_for(f"kubectl explain {field}", explained, timeout=60)
    assert "KIND:" in text and "TranscriptionJob" in text
    for words in says:
        assert words in text, text
