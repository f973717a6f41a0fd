"""A long recording on the cluster: an Indexed Job of one pod per shard on the real node, a
killed shard pod run again alone, and the shards' transcripts stitched once."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from audiotext.engine.hallucination import normalized

from deployment import Deployment, job_row
from helpers import LINES
from wer import wer

pytestmark = [pytest.mark.k8s, pytest.mark.slow]


async def test_a_long_recording_runs_as_an_indexed_job_and_survives_a_killed_shard(
    deployment: Deployment, two_minutes: Path
) -> None:
    url = deployment.upload(two_minutes)
    async with httpx.AsyncClient(base_url=deployment.gateway_url, timeout=60) as client:
        # A 30 s shard takes a few seconds, and the node may report its pod running only as it
        # ends: a kill that came after the shard was done is no test of a rerun, so try again.
        for _ in range(3):
            job_id, shards, counts = await _job_with_shard_0_killed(deployment, client, url)
            if counts.get("failed", 0):
                break
        # The killed pod's shard ran again alone; every other shard ran once.
        assert counts.get("failed") == 1 and counts["succeeded"] == shards, counts
        row = job_row(deployment, job_id)
        assert row["status"] == "completed" and row["shards"]["succeeded"] == shards
        sharded = (await client.get(f"/api/v1/job/{job_id}/transcript?format=json")).json()

    said = " ".join(normalized(w) for w in " ".join(LINES * 4).split())
    ours = " ".join(normalized(w["word"]) for s in sharded["segments"] for w in s["words"])
    assert wer(said, ours) <= 0.1, ours
    assert [s["id"] for s in sharded["segments"]] == list(range(len(sharded["segments"])))
    starts = [s["start"] for s in sharded["segments"]]
    assert starts == sorted(starts)


async def _job_with_shard_0_killed(
    deployment: Deployment, client: httpx.AsyncClient, url: str
) -> tuple[str, int, dict[str, int]]:
    """A sharded job whose shard 0 pod is deleted while it runs, once it has succeeded: its
    id, its shard count and its Job's pod counts."""
    created = await client.post(
        "/api/v1/job/transcribe",
        json={"filename": "long.flac", "url": url, "shard_seconds": 30, "max_parallel": 2},
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    cluster, namespace = deployment.cluster, deployment.namespace
    first_shard = ",".join(
        [f"audiotext.io/transcriptionjob={job_id}", "batch.kubernetes.io/job-completion-index=0"]
    )

    def killed_running_pod() -> str:
        # Found and killed in one call, so the pod cannot end between being seen and deleted.
        deleted = cluster.run(
            "delete", "pod", "-n", namespace, "-l", first_shard,
            "--field-selector=status.phase=Running", "--wait=false", "-o", "name",
        )  # fmt: skip
        name = deleted.stdout.strip()
        return name if name.startswith("pod/") else ""  # not "No resources found"

    cluster.wait_for("shard 0's pod to run", killed_running_pod, timeout=180, interval=0.2)
    job = cluster.json("get", "job", "-n", namespace, "-l", f"audiotext.io/job-id={job_id}")
    spec = job["items"][0]["spec"]
    shards = int(spec["completions"])
    assert spec["completionMode"] == "Indexed" and shards >= 4 and spec["parallelism"] == 2

    tj = deployment.wait_phase(job_id, {"Succeeded", "Failed"}, timeout=420)
    status = tj["status"]
    assert status["phase"] == "Succeeded", (status, deployment.log("operator"))
    assert status["shards"] == {"total": shards, "succeeded": shards, "running": 0, "failed": 0}
    assert status["progress"] == 100
    columns = cluster.run("get", "tj", job_id, "-n", namespace).stdout.split()
    assert f"{shards}/{shards}" in columns, columns  # the SHARDS column
    ended = cluster.json("get", "job", "-n", namespace, "-l", f"audiotext.io/job-id={job_id}")
    return job_id, shards, ended["items"][0]["status"]
