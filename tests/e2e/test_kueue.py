"""Sharing GPUs through the real Kueue of the test cluster, with the chart's queueing objects.

The release's ClusterQueue has one flavor, the real runner node, with room for one worker
(1 GiB of memory): one job runs at a time and the rest wait in Kueue's queue, as jobs wait
for a team's single GPU.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployment import (
    ROOT,
    RUNNER_SELECTOR,
    RUNNER_TOLERATION,
    Deployment,
    job_row,
    kubectl_columns,
    transcription_job,
)
from helpers import LONG_TEXT
from wer import wer

pytestmark = [pytest.mark.k8s, pytest.mark.slow]

QUEUE = "transcription"
CPU = {"device": "cpu"}


def chart_queues(deployment: Deployment, release: str, **kueue: Any) -> str:
    """The chart's Kueue objects (``kueue.enabled``, with these values) for this namespace."""
    values = {"jobNamespace": deployment.namespace, "kueue": {"enabled": True, **kueue}}
    path = deployment.workdir / f"{release}-values.json"
    path.write_text(json.dumps(values))
    rendered = subprocess.run(
        [
            str(deployment.cluster.helm),
            "template",
            release,
            str(ROOT / "charts" / "audiotext"),
            "--namespace",
            deployment.namespace,
            "-f",
            str(path),
            "--show-only",
            "templates/kueue.yaml",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return rendered.stdout


@pytest.fixture(scope="module")
def queue(deployment: Deployment) -> Iterator[str]:
    # One flavor, the real runner node, with room for one worker (1 GiB).
    runner = {
        "name": "runner",
        "nodeLabels": RUNNER_SELECTOR,
        "tolerations": [RUNNER_TOLERATION],
        "quota": {"cpu": "4", "memory": "1Gi"},
    }
    release = f"kq-{deployment.namespace[-6:]}"
    objects = chart_queues(deployment, release, localQueue=QUEUE, flavors=[runner])
    deployment.cluster.apply(objects)
    yield QUEUE
    deployment.cluster.run("delete", "tj", "--all", "-n", deployment.namespace, check=False)
    deployment.cluster.run("delete", "-f", "-", "--wait=false", input=objects, check=False)


def workloads(deployment: Deployment, job_name: str) -> list[dict[str, Any]]:
    listing = deployment.cluster.json("get", "workloads.kueue.x-k8s.io", "-n", deployment.namespace)
    return [
        w
        for w in listing["items"]
        if any(ref["name"] == job_name for ref in w["metadata"].get("ownerReferences", []))
    ]


def events_of(deployment: Deployment, name: str) -> list[dict[str, Any]]:
    listing = deployment.cluster.json(
        "get",
        "events",
        "-n",
        deployment.namespace,
        "--field-selector",
        f"involvedObject.name={name}",
    )
    return list(listing["items"])


def test_one_slot_runs_one_job_and_admits_the_rest_by_priority(
    deployment: Deployment, queue: str, jfk: Path
) -> None:
    url = deployment.upload(jfk)
    ns = deployment.namespace

    def submit(name: str, priority: str) -> None:
        job = transcription_job(name, url, queueName=queue, priority=priority, **CPU)
        deployment.cluster.apply(job, ns)

    submit("first", "interactive")
    deployment.wait_phase("first", {"Running"})
    for name, priority in (("second", "batch"), ("urgent", "interactive"), ("dropped", "batch")):
        submit(name, priority)
    # Each waits, and says what for in Kueue's words: the one slot is taken.
    for name in ("second", "urgent", "dropped"):
        tj = deployment.cluster.wait_for(
            f"{name} to show why it waits",
            lambda n=name: (
                (t := deployment.resource(n))["status"].get("phase") == "Queued"
                and "quota" in t["status"].get("message", "")
                and t
            ),
            timeout=60,
        )
        assert "memory" in tj["status"]["message"], tj["status"]
        assert not deployment.pods(name)
    # The API's job says so too.
    second_id = deployment.resource("second")["status"]["jobId"]
    waiting = deployment.cluster.wait_for(
        "the API to say why the job waits",
        lambda: (row := job_row(deployment, second_id))["queued"] and row,
        timeout=30,
    )
    assert waiting["status"] == "pending" and "quota" in waiting["queued"], waiting
    assert any(
        e["reason"] == "Queued" and "quota" in e["message"] for e in events_of(deployment, "second")
    )
    columns = kubectl_columns(deployment.cluster, ns)
    assert columns["PHASE"][columns["NAME"].index("urgent")] == "Queued"

    # A cancelled job leaves the queue: its Workload goes, and it never takes the slot.
    dropped_job = deployment.resource("dropped")["status"]["jobName"]
    assert workloads(deployment, dropped_job)
    deployment.cluster.run("delete", "tj", "dropped", "-n", ns)
    deployment.cluster.wait_for(
        "the dropped job's Workload to go", lambda: not workloads(deployment, dropped_job)
    )

    # When the slot frees, the interactive job goes before the batch one submitted earlier.
    urgent = deployment.wait_phase("urgent", {"Running", "Succeeded"}, timeout=240)
    assert deployment.resource("second")["status"]["phase"] == "Queued", urgent["status"]
    for name in ("first", "urgent", "second"):
        tj = deployment.wait_phase(name, {"Succeeded", "Failed"}, timeout=240)
        assert tj["status"]["phase"] == "Succeeded", deployment.explain(name)
    assert job_row(deployment, second_id)["queued"] is None  # it ran
    starts = {
        n: deployment.resource(n)["status"]["startTime"] for n in ("first", "urgent", "second")
    }
    assert starts["first"] <= starts["urgent"] <= starts["second"], starts
    assert not deployment.pods("dropped")


def test_a_preempted_batch_job_waits_and_completes_later(
    deployment: Deployment, queue: str, long_speech: Path, jfk: Path
) -> None:
    ns = deployment.namespace
    background = transcription_job(
        "background", deployment.upload(long_speech), queueName=queue, priority="batch", **CPU
    )
    deployment.cluster.apply(background, ns)
    deployment.wait_phase("background", {"Running"})
    job_id = deployment.resource("background")["status"]["jobId"]
    deployment.cluster.wait_for(
        "the batch job's worker to make progress",
        lambda: job_row(deployment, job_id)["progress"] > 0,
        timeout=180,
        interval=0.3,
    )
    interactive = transcription_job(
        "interactive", deployment.upload(jfk), queueName=queue, priority="interactive", **CPU
    )
    deployment.cluster.apply(interactive, ns)

    # Kueue takes the slot back for the interactive job: the batch one waits again.
    deployment.wait_phase("background", {"Queued"}, timeout=60)
    deployment.cluster.wait_for(
        "the batch job to say it was preempted",
        lambda: "reempt" in (t := deployment.resource("background"))["status"]["message"] and t,
        timeout=30,
    )
    done = deployment.wait_phase("interactive", {"Succeeded", "Failed"}, timeout=240)
    assert done["status"]["phase"] == "Succeeded", deployment.explain("interactive")

    # ...and then runs again from the start and completes: nothing of it is lost, and being
    # preempted used none of its retries.
    finished = deployment.wait_phase("background", {"Succeeded", "Failed"}, timeout=400)
    assert finished["status"]["phase"] == "Succeeded", deployment.explain("background")
    (job,) = deployment.jobs("background")
    assert not job["status"].get("failed"), job["status"]
    row = job_row(deployment, job_id)
    assert row["status"] == "completed" and wer(LONG_TEXT, row["result_text"]) <= 0.25


def workload_items(deployment: Deployment) -> list[dict[str, Any]]:
    listing = deployment.cluster.json("get", "workloads.kueue.x-k8s.io", "-n", deployment.namespace)
    return list(listing["items"])


def admitted_at(workload: dict[str, Any]) -> str | None:
    """When Kueue admitted a Workload (or, where it finished in between, when it finished)."""
    conditions = {c["type"]: c for c in workload.get("status", {}).get("conditions", [])}
    for kind in ("Admitted", "Finished"):
        if conditions.get(kind, {}).get("status") == "True":
            return str(conditions[kind]["lastTransitionTime"])
    return None


def blocking_workload(namespace: str, queue: str) -> dict[str, Any]:
    """A Workload of no Job: admitted, it holds a GPU of ``queue`` until it is deleted."""
    container = {"name": "c", "image": "none", "resources": {"requests": {"nvidia.com/gpu": "1"}}}
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "Workload",
        "metadata": {"name": f"blocker-{queue}", "namespace": namespace},
        "spec": {
            "queueName": queue,
            "podSets": [
                {
                    "name": "main",
                    "count": 1,
                    "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
                }
            ],
        },
    }


def test_one_tenants_backlog_does_not_hold_back_anothers_jobs(
    deployment: Deployment, jfk: Path
) -> None:
    """Two tenants, a GPU's quota each in one cohort: team-b's jobs, submitted after all of
    team-a's, take their turns beside them (the simulated GPU node, whose pods end at once)."""
    ns = deployment.namespace
    gpu = {
        "name": "gpu",
        "nodeLabels": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "quota": {"cpu": "0", "memory": "0", "nvidia.com/gpu": "0"},
    }
    one_gpu = {"cpu": "32", "memory": "32Gi", "nvidia.com/gpu": "1"}
    tenants = [{"name": t, "weight": "1", "quota": one_gpu} for t in ("team-a", "team-b")]
    objects = chart_queues(
        deployment, f"kt-{ns[-6:]}", localQueue="shared", flavors=[gpu], tenants=tenants
    )
    deployment.cluster.apply(objects)
    blockers = [blocking_workload(ns, t) for t in ("team-a", "team-b")]
    names = [f"{tenant}-{i}" for tenant in ("team-a", "team-b") for i in range(8)]
    order: list[str] = []  # the tenants, in the order Kueue admitted their jobs
    try:
        # Each tenant's GPU is held until every job waits: then both go at once.
        deployment.cluster.apply(blockers)
        deployment.cluster.wait_for(
            "the blockers to hold the GPUs",
            lambda: (
                sum(
                    bool(admitted_at(w))
                    for w in workload_items(deployment)
                    if w["metadata"]["name"].startswith("blocker-")
                )
                == 2
            ),
        )
        url = deployment.upload(jfk)
        # team-a's eight first, then team-b's.
        resources = [
            transcription_job(n, url, queueName=n[:6], device="gpu", gpus=1) for n in names
        ]
        deployment.cluster.apply(resources, ns)
        deployment.cluster.wait_for(
            "every job to wait in its tenant's queue",
            lambda: sum(not admitted_at(w) for w in workload_items(deployment)) == len(names),
            timeout=120,
        )
        deployment.cluster.run("delete", "workload", "blocker-team-a", "blocker-team-b", "-n", ns)
        seen: set[str] = set()

        def all_admitted() -> bool:
            fresh = [
                w
                for w in workload_items(deployment)
                if admitted_at(w)
                and w["spec"]["queueName"] in ("team-a", "team-b")
                and w["metadata"]["name"] not in seen
            ]
            for workload in sorted(fresh, key=lambda w: admitted_at(w) or ""):
                seen.add(workload["metadata"]["name"])
                order.append(workload["spec"]["queueName"])
            return len(order) == len(names)

        deployment.cluster.wait_for(
            "every job to be admitted", all_admitted, timeout=240, interval=0.2
        )
    finally:
        deployment.cluster.run("delete", "tj", "--all", "-n", ns, "--wait=false", check=False)
        deployment.cluster.run(
            "delete",
            "-f",
            "-",
            "-n",
            ns,
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": blockers}),
            check=False,
        )
        deployment.cluster.run("delete", "-f", "-", "--wait=false", input=objects, check=False)
    # In turns, not team-a's eight (submitted first) before team-b's.
    assert order[: len(names) // 2].count("team-b") >= 3, " ".join(order)
