"""Sharded jobs on the test cluster: a long recording in one pod against the same in shards.

    python bench/shards_cluster.py [--minutes 8] [--shards 4]

Needs the test cluster (``make cluster-up``); without it the script says so and exits 0. It
deploys AudioText as the end-to-end tests do (the operator and the gateway as processes, the
worker pods on the real node runner-node-0, PostgreSQL, Redis and MinIO on this machine) and
submits the same espeak-ng recording twice through the gateway: with one shard (one pod, the
baseline) and in ``shards`` shards (an Indexed Job, all at once). Rows: the wall time from the
request to the completed job; the stitching overhead (the Job's completion → the job's
completion, which the operator's stitch and the final write take); the WER of each against
what was said. The real node is this machine: shards share its cores, so the wall-time ratio
says what the pods' start and the stitch cost, not what more nodes would give.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from benchkit import audio
from benchkit.processes import ROOT
from benchkit.report import Row, fmt, print_table

sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]
from deployment import Deployment, deploy, ensure_worker_image, start_servers  # noqa: E402
from support.cluster import CLUSTER_DIR, Cluster  # noqa: E402
from wer import wer  # noqa: E402


def seconds_of(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def one_job(deployment: Deployment, url: str, shard_seconds: float) -> tuple[float, float, str]:
    """(wall seconds, stitching seconds, text) of one job through the gateway."""
    body = {"filename": "long.flac", "url": url, "shard_seconds": shard_seconds}
    with httpx.Client(base_url=deployment.gateway_url, timeout=60) as client:
        started = time.time()
        created = client.post("/api/v1/job/transcribe", json=body)
        created.raise_for_status()
        job_id = created.json()["id"]
        while (job := client.get(f"/api/v1/job/status/{job_id}").json())["status"] not in (
            "completed",
            "failed",
            "cancelled",
        ):
            time.sleep(0.5)
        if job["status"] != "completed":
            raise RuntimeError(f"job {job_id} {job['status']}: {job['error_message']}")
        wall = seconds_of(job["completed_at"]) - started

        def job_completed() -> str | None:
            (worker,) = deployment.cluster.json(
                "get", "jobs", "-n", deployment.namespace, "-l", f"audiotext.io/job-id={job_id}"
            )["items"]
            return worker["status"].get("completionTime")

        # One pod's worker completes the job before its Job completes: no stitch (negative).
        ended = deployment.cluster.wait_for("the Job to complete", job_completed, timeout=60)
        stitch = seconds_of(job["completed_at"]) - seconds_of(ended)
        text = client.get(f"/api/v1/job/{job_id}/transcript", params={"format": "txt"}).text
    return wall, stitch, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=8, help="length (the upload limit: 10 MB)")
    parser.add_argument("--shards", type=int, default=4, help="shards of the sharded run")
    args = parser.parse_args()
    cluster = Cluster(root=CLUSTER_DIR)
    if not cluster.is_up():
        print("the test cluster is not running (make cluster-up); nothing measured")
        return 0
    ensure_worker_image(cluster)
    recording = audio.speech(args.minutes)
    duration = audio.duration(recording)
    said = " ".join(
        [audio.PARAGRAPH] * round(duration / audio.duration(audio.CACHE / "paragraph.wav"))
    )
    servers = start_servers(cluster.host_ip)
    with contextlib.ExitStack() as stack:
        stack.callback(servers.close)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="audiotext-")))
        deployed = contextlib.contextmanager(deploy)(cluster, servers, workdir)
        deployment = stack.enter_context(deployed)
        url = deployment.upload(recording)
        one_job(deployment, deployment.upload(audio.jfk()), 0)  # the node's image and model warm
        whole = one_job(deployment, url, 0)  # 0: never sharded, one pod
        sharded = one_job(deployment, url, max(30.0, duration / args.shards))
    rows = [
        Row(
            f"{args.minutes} min: s, request → completed, 1 pod vs {args.shards} shards",
            fmt(whole[0]),
            fmt(sharded[0]),
            fmt(sharded[0] / whole[0]),
            "reported",
            None,
        ),
        Row(
            "s, the Job completed → the job completed (the stitch)",
            "-" if whole[1] < 0 else fmt(whole[1]),
            fmt(sharded[1]),
            "-",
            "reported",
            None,
        ),
        Row(
            "WER against what was said",
            fmt(wer(said, whole[2]), 3),
            fmt(wer(said, sharded[2]), 3),
            "-",
            "reported",
            None,
        ),
    ]
    print_table("Sharded jobs on the test cluster's real node (tiny.en, CPU)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
