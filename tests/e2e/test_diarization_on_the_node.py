"""Who spoke, on the Kubernetes path: the worker pod on the real node runs the speaker network."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from deployment import Deployment, follow, table_columns
from helpers import Conversation

pytestmark = [pytest.mark.k8s, pytest.mark.slow]


def wide_columns(deployment: Deployment, name: str) -> dict[str, str]:
    """``kubectl get tj NAME -o wide`` as a user reads it: header → value."""
    out = deployment.cluster.run("get", "tj", name, "-n", deployment.namespace, "-o", "wide")
    return {column: values[0] for column, values in table_columns(out.stdout).items()}


async def test_a_diarized_job_from_the_gateway_runs_in_shard_pods(
    deployment: Deployment, long_conversation: Conversation
) -> None:
    """Two shards, each diarized in its own pod: the stitch gives one voice one name."""
    url = deployment.upload(long_conversation.path, "audio/wav")
    async with httpx.AsyncClient(base_url=deployment.gateway_url, timeout=60) as client:
        created = await client.post(
            "/api/v1/job/transcribe",
            json={
                "filename": "talk.wav",
                "url": url,
                "diarize": True,
                "max_speakers": 3,
                "shard_seconds": 30,
            },
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        ws = f"{deployment.gateway_url.replace('http', 'ws')}/api/v1/job/ws/{job_id}"
        messages = await follow(ws)
        assert messages[-1]["status"] == "completed", (messages[-1], deployment.log("operator"))
        assert messages[-1]["speakers"] == 3
        text = (await client.get(f"/api/v1/job/{job_id}/transcript?format=txt")).text
    speakers = {line.split(":")[0] for line in text.splitlines()}
    assert speakers == {"SPEAKER_00", "SPEAKER_01", "SPEAKER_02"}, text

    tj = deployment.wait_phase(job_id, {"Succeeded"})
    assert tj["spec"]["diarization"] == {"enabled": True, "maxSpeakers": 3}
    assert tj["status"]["shards"]["total"] == tj["status"]["shards"]["succeeded"] == 2
    job = deployment.cluster.json(
        "get", "job", "-n", deployment.namespace, "-l", f"audiotext.io/job-id={job_id}"
    )["items"][0]
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == 2
    assert tj["status"]["speakers"] == 3
    assert set(tj["status"]["outputs"]) == {"txt", "json", "srt", "vtt", "rttm"}
    assert wide_columns(deployment, job_id)["SPEAKERS"] == "3"


def diarized_resource(name: str, url: str, **diarization: Any) -> dict[str, Any]:
    return {
        "apiVersion": "audiotext.io/v1alpha1",
        "kind": "TranscriptionJob",
        "metadata": {"name": name},
        "spec": {
            "audio": {"url": url},
            "device": "cpu",
            "outputFormats": ["txt", "rttm"],
            "diarization": {"enabled": True, **diarization},
        },
    }


def test_kubectl_asks_for_diarization_and_the_crd_checks_the_counts(
    deployment: Deployment, conversation: Conversation
) -> None:
    url = deployment.upload(conversation.path, "audio/wav")
    refused = deployment.cluster.run(
        "apply", "-f", "-", "-n", deployment.namespace,
        input=json.dumps(diarized_resource("bad-counts", url, minSpeakers=3, maxSpeakers=2)),
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "minSpeakers must not be larger" in refused.stderr

    deployment.cluster.apply(diarized_resource("who-spoke", url), deployment.namespace)
    tj = deployment.wait_phase("who-spoke", {"Succeeded", "Failed"}, timeout=240)
    assert tj["status"]["phase"] == "Succeeded", tj["status"]
    assert tj["status"]["speakers"] == 3
    assert sorted(tj["status"]["outputs"]) == ["rttm", "txt"]
    assert wide_columns(deployment, "who-spoke")["SPEAKERS"] == "3"
