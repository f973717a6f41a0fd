"""Sharded jobs on the test cluster: a long recording in one pod against the same in shards.

    python bench/shards_cluster.py [--minutes 8] [--shards 4]
    python bench/shards_cluster.py --minutes 120 --shard-seconds 600 --max-parallel 4 --kill-one

Needs the test cluster (``make cluster-up``); without it the script says so and exits 0. It
deploys AudioText as the end-to-end tests do (the operator and the gateway as processes, the
worker pods on the real node runner-node-0, PostgreSQL, Redis and MinIO on this machine) and
submits the same espeak-ng recording twice through the gateway: with one shard (one pod, the
baseline) and in shards (an Indexed Job). ``--kill-one`` deletes a running shard's pod once it
has been at work for a while: its shard must run again alone and the job still complete.

Rows: the wall time from the request to the completed job; the stitching overhead (the Job's
completion → the job's completion: the operator's stitch and the final write); the issue's
quality rows, sharded against one pod: the word count (within 1 %), the WER against what was
said (at most 0.5 point worse), and the words within ``NEAR_CUT`` seconds of each cut (the cuts
planned here as every pod plans them): no stretch of ``RUN`` words there more often than in
the one pod's, and none of its stretches missing. Words heard otherwise (two decodes of the
same speech differ now and then) are counted apart, against the same around each shard's
middle. Both word lists are saved beside the cached audio. The real
node is this machine: shards share its cores, so the wall-time ratio says what the pods' start
and the stitch cost, not what more nodes would give.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import difflib
import itertools
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from benchkit import audio
from benchkit.processes import ROOT
from benchkit.report import Row, fmt, print_table

from audiotext.engine.hallucination import normalized
from audiotext.pipeline import shards_of

sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]
from deployment import Deployment, deploy, ensure_worker_image, start_servers  # noqa: E402
from support.cluster import CLUSTER_DIR, Cluster  # noqa: E402
from wer import wer  # noqa: E402

NEAR_CUT = 20.0
RUN = 4  # words in a row: a stretch doubled or dropped at a cut, not one word heard otherwise
KILL_AFTER = 20.0  # seconds a shard's pod has run when --kill-one deletes it
MB = 1024 * 1024
ONE_POD_MEMORY, SHARD_MEMORY = "8Gi", "1Gi"  # the shards' is the end-to-end tests'


@dataclass
class Run:
    wall: float
    stitch: float  # negative: one pod, which completes the job before its Job completes
    words: list[tuple[float, str]]  # (middle, normalized word), in order
    pods_failed: int  # the Job's count: a killed pod is one
    killed: str | None = None

    @property
    def text(self) -> str:
        return " ".join(w for _, w in self.words)

    def near(self, cut: float) -> list[str]:
        return [w for t, w in self.words if abs(t - cut) <= NEAR_CUT]


def seconds_of(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def worker_job(deployment: Deployment, job_id: str) -> dict[str, Any]:
    (job,) = deployment.cluster.json(
        "get", "jobs", "-n", deployment.namespace, "-l", f"audiotext.io/job-id={job_id}"
    )["items"]
    return dict(job)


def kill_a_shard(deployment: Deployment, job_id: str) -> str:
    """Delete the pod of a shard (not the first) that has run ``KILL_AFTER`` seconds."""

    def busy_pod() -> str | None:
        for pod in deployment.pods(job_id):
            started = pod["status"].get("startTime")
            index = (
                pod["metadata"]
                .get("annotations", {})
                .get("batch.kubernetes.io/job-completion-index", "0")
            )
            running = pod["status"].get("phase") == "Running"
            if (
                running
                and index != "0"
                and started
                and time.time() - seconds_of(started) > KILL_AFTER
            ):
                return f"{pod['metadata']['name']} (index {index})"
        return None

    found = deployment.cluster.wait_for("a busy shard's pod", busy_pod, timeout=900, interval=1)
    name = found.split()[0]
    deployment.cluster.run("delete", "pod", name, "-n", deployment.namespace, "--wait=false")
    return found


def worker_memory(deployment: Deployment, limit: str) -> None:
    """The operator restarted to give the worker pods it makes from now on ``limit``."""
    deployment.stop_operator()
    resources = json.dumps({"limits": {"memory": limit}})
    deployment.start_operator(AUDIOTEXT_WORKER_RESOURCES=resources)


def one_job(deployment: Deployment, url: str, sharding: dict[str, float], kill: bool) -> Run:
    body = {"filename": "long.flac", "url": url, **sharding}
    with httpx.Client(base_url=deployment.gateway_url, timeout=60) as client:
        started = time.time()
        created = client.post("/api/v1/job/transcribe", json=body)
        created.raise_for_status()
        job_id = created.json()["id"]
        killed = kill_a_shard(deployment, job_id) if kill else None
        while (job := client.get(f"/api/v1/job/status/{job_id}").json())["status"] not in (
            "completed",
            "failed",
            "cancelled",
        ):
            time.sleep(1)
        if job["status"] != "completed":
            raise RuntimeError(f"job {job_id} {job['status']}: {job['error_message']}")
        wall = seconds_of(job["completed_at"]) - started

        def job_completed() -> str | None:
            return worker_job(deployment, job_id)["status"].get("completionTime")

        ended = deployment.cluster.wait_for("the Job to complete", job_completed, timeout=60)
        failed = int(worker_job(deployment, job_id)["status"].get("failed") or 0)
        stitch = seconds_of(job["completed_at"]) - seconds_of(ended)
        transcript = client.get(f"/api/v1/job/{job_id}/transcript", params={"format": "json"})
    words = [
        ((w["start"] + w["end"]) / 2, normalized(w["word"]))
        for s in transcript.json()["segments"]
        for w in s["words"]
        if normalized(w["word"])
    ]
    return Run(wall, stitch, words, failed, killed)


def edits(a: list[str], b: list[str]) -> int:
    """Words inserted, deleted or replaced between ``a`` and ``b``."""
    opcodes = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in opcodes if op != "equal")


def doubled(whole: list[str], sharded: list[str]) -> int:
    """Runs of ``RUN`` words said more often in ``sharded`` than in ``whole``: a stretch
    transcribed twice (by both shards at a cut) shows as one."""
    theirs = collections.Counter(_runs(whole))
    ours = collections.Counter(_runs(sharded))
    return sum(1 for run, seen in ours.items() if seen > 1 and seen > theirs[run])


def dropped(whole: list[str], sharded: list[str]) -> int:
    """Words of ``whole`` that ``sharded`` has nothing for, at least ``RUN`` more in one
    place than it has there: a stretch no shard transcribed."""
    opcodes = difflib.SequenceMatcher(a=whole, b=sharded, autojunk=False).get_opcodes()
    lost = [(i2 - i1) - (j2 - j1) for op, i1, i2, j1, j2 in opcodes if op != "equal"]
    return sum(words for words in lost if words >= RUN)


def _runs(words: list[str]) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + RUN]) for i in range(len(words) - RUN + 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=8, help="length of the recording")
    parser.add_argument("--shards", type=int, default=4, help="shards of the sharded run")
    parser.add_argument("--shard-seconds", type=float, help="instead of --shards")
    parser.add_argument("--max-parallel", type=int, help="pods at once (default: every shard)")
    parser.add_argument("--kill-one", action="store_true", help="delete a busy shard's pod")
    args = parser.parse_args()
    cluster = Cluster(root=CLUSTER_DIR)
    if not cluster.is_up():
        print("the test cluster is not running (make cluster-up); nothing measured")
        return 0
    ensure_worker_image(cluster)
    recording = audio.speech(args.minutes)
    duration = audio.duration(recording)
    said = audio.said_in(recording)
    shard_seconds = args.shard_seconds or max(30.0, duration / args.shards)
    sharding: dict[str, float] = {"shard_seconds": shard_seconds}
    if args.max_parallel:
        sharding["max_parallel"] = args.max_parallel
    cuts = [shard.start for shard in shards_of(recording, duration, shard_seconds)[1:]]
    servers = start_servers(cluster.host_ip)
    with contextlib.ExitStack() as stack:
        stack.callback(servers.close)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="audiotext-")))
        deployed = contextlib.contextmanager(deploy)(cluster, servers, workdir)
        deployment = stack.enter_context(deployed)
        # The gateway probes what it is given: let it take the whole recording.
        deployment.stop("gateway")
        limit = str(max(10 * MB, 2 * recording.stat().st_size))
        deployment.start_gateway(AUDIOTEXT_MAX_UPLOAD_BYTES=limit)
        url = deployment.upload(recording)
        one_job(deployment, deployment.upload(audio.jfk()), {"shard_seconds": 0}, False)  # warm
        # One pod decodes the whole recording: more than the tests' 1 GiB when it is long.
        worker_memory(deployment, ONE_POD_MEMORY)
        whole = one_job(deployment, url, {"shard_seconds": 0}, False)  # never sharded: one pod
        worker_memory(deployment, SHARD_MEMORY)
        sharded = one_job(deployment, url, sharding, args.kill_one)
    saved = audio.CACHE / f"shards-cluster-{args.minutes}min.json"
    saved.write_text(json.dumps({"whole": whole.words, "sharded": sharded.words, "cuts": cuts}))
    print_table(
        f"Sharded jobs on the test cluster's real node (tiny.en, CPU, {args.minutes} min)",
        rows(args.minutes, len(cuts) + 1, whole, sharded, said, cuts),
    )
    if sharded.killed:
        print(f"killed: {sharded.killed}; the Job's failed pods: {sharded.pods_failed}")
    return 0


def rows(
    minutes: int, shards: int, whole: Run, sharded: Run, said: str, cuts: list[float]
) -> list[Row]:
    count_ratio = len(sharded.words) / max(1, len(whole.words))
    whole_wer, sharded_wer = wer(said, whole.text), wer(said, sharded.text)
    middles = [(a + b) / 2 for a, b in itertools.pairwise([0.0, *cuts, whole.words[-1][0]])]
    at_cuts = [edits(whole.near(c), sharded.near(c)) for c in cuts]
    elsewhere = [edits(whole.near(m), sharded.near(m)) for m in middles]
    doubled_at = sum(doubled(whole.near(c), sharded.near(c)) for c in cuts)
    dropped_at = sum(dropped(whole.near(c), sharded.near(c)) for c in cuts)
    return [
        Row(
            f"{minutes} min: s, request → completed, 1 pod vs {shards} shards",
            fmt(whole.wall),
            fmt(sharded.wall),
            fmt(sharded.wall / whole.wall),
            "reported",
            None,
        ),
        Row(
            "s, the Job completed → the job completed (the stitch)",
            "-" if whole.stitch < 0 else fmt(whole.stitch),
            fmt(sharded.stitch),
            "-",
            "reported",
            None,
        ),
        Row(
            "words, sharded vs 1 pod",
            fmt(len(whole.words), 0),
            fmt(len(sharded.words), 0),
            fmt(count_ratio, 4),
            "within 1 %",
            abs(count_ratio - 1) <= 0.01,
        ),
        Row(
            "WER against what was said",
            fmt(whole_wer, 3),
            fmt(sharded_wer, 3),
            f"{sharded_wer - whole_wer:+.3f}",
            "≤ +0.005",
            sharded_wer <= whole_wer + 0.005,
        ),
        Row(
            f"within {NEAR_CUT:.0f} s of the cuts: stretches doubled, words dropped",
            "0, 0",
            f"{doubled_at}, {dropped_at}",
            "-",
            "0, 0",
            doubled_at == dropped_at == 0,
        ),
        Row(
            f"words within {NEAR_CUT:.0f} s, edits against 1 pod: per shard's middle, per cut",
            fmt(sum(elsewhere) / len(elsewhere), 1),
            fmt(sum(at_cuts) / max(1, len(at_cuts)), 1),
            "-",
            "reported",
            None,
        ),
    ]


if __name__ == "__main__":
    sys.exit(main())
