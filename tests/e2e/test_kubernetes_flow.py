"""The Kubernetes path end to end: gateway → TranscriptionJob → operator → Job → worker pod."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI

from deployment import Deployment, follow, job_row, kubectl_columns, transcription_job
from helpers import JFK_TEXT
from wer import wer

pytestmark = [pytest.mark.k8s, pytest.mark.slow]


async def test_presigned_upload_runs_as_a_job_on_the_real_node(
    deployment: Deployment, jfk: Path
) -> None:
    url = deployment.upload(jfk)
    async with httpx.AsyncClient(base_url=deployment.gateway_url, timeout=60) as client:
        created = await client.post(
            "/api/v1/job/transcribe", json={"filename": "jfk.flac", "url": url}
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        ws = f"{deployment.gateway_url.replace('http', 'ws')}/api/v1/job/ws/{job_id}"
        messages = await follow(ws)
        assert messages[-1]["status"] == "completed", (messages[-1], deployment.log("operator"))
        assert wer(JFK_TEXT, messages[-1]["result_text"]) <= 0.1
        assert any(m["status"] == "processing" for m in messages)
        # The worker's progress reaches the client while it runs, not only at the end.
        assert any(0 < m["progress"] < 100 for m in messages[:-1]), messages
        transcript = await client.get(f"/api/v1/job/{job_id}/transcript?format=srt")
        assert " --> " in transcript.text

    tj = deployment.wait_phase(job_id, {"Succeeded"})
    status = tj["status"]
    assert status["progress"] == 100 and status["attempts"] == 1
    assert status["jobName"] == f"{job_id}-worker"
    assert set(status["outputs"]) == {"txt", "json", "srt", "vtt"}
    assert status["outputs"]["txt"].startswith(f"s3://{deployment.bucket}/")
    assert {c["type"]: c["status"] for c in status["conditions"]}["Succeeded"] == "True"
    pods = deployment.pods(job_id)
    assert pods and all(p["spec"]["nodeName"] == "runner-node-0" for p in pods)
    columns = kubectl_columns(deployment.cluster, deployment.namespace)
    row = columns["NAME"].index(job_id)
    assert columns["PHASE"][row] == "Succeeded"
    assert columns["MODEL"][row] == "tiny.en"
    assert columns["PROGRESS"][row] == "100"
    assert abs(float(columns["DURATION"][row]) - 11) < 1  # seconds of audio
    events = deployment.cluster.run("describe", "tj", job_id, "-n", deployment.namespace).stdout
    assert "JobCreated" in events and "Completed" in events


async def test_the_openai_endpoint_through_worker_pods_streams_what_they_publish(
    deployment: Deployment, long_speech: Path, jfk: Path
) -> None:
    api = AsyncOpenAI(
        base_url=f"{deployment.gateway_url}/v1", api_key="x", max_retries=0, timeout=400
    )
    events: list[Any] = []
    status_at_first_word = None
    with long_speech.open("rb") as f:
        stream = await api.audio.transcriptions.create(model="whisper-1", file=f, stream=True)
        async for event in stream:
            events.append(event)
            if status_at_first_word is None:
                status_at_first_word = newest_job(deployment)["status"]
    *deltas, done = events
    assert done.type == "transcript.text.done" and len(deltas) > 100
    assert "".join(d.delta for d in deltas) == done.text
    # The words came through Redis as the pod decoded them: the first while it still ran.
    assert status_at_first_word == "processing"
    with jfk.open("rb") as f:
        verbose = await api.audio.transcriptions.create(
            model="whisper-1",
            file=f,
            response_format="verbose_json",
            timestamp_granularities=["word"],
            extra_body={"beam_size": 1, "hotwords": "Americans"},
        )
    assert wer(JFK_TEXT, verbose.text) <= 0.1 and verbose.words and not verbose.segments


RUNNER = {"device": "cpu"}
FINAL_PHASES = {"Succeeded", "Failed", "Cancelled"}


async def submit(deployment: Deployment, path: Path) -> str:
    url = deployment.upload(path)
    async with httpx.AsyncClient(base_url=deployment.gateway_url, timeout=60) as client:
        created = await client.post(
            "/api/v1/job/transcribe", json={"filename": path.name, "url": url}
        )
    assert created.status_code == 202, created.text
    return str(created.json()["id"])


async def submit_running(deployment: Deployment, path: Path) -> str:
    """Submit ``path`` through the gateway; return once its worker reports progress."""
    job_id = await submit(deployment, path)
    deployment.cluster.wait_for(
        "the worker to make progress",
        lambda: job_row(deployment, job_id)["progress"] > 0,
        timeout=180,
        interval=0.3,
    )
    return job_id


def newest_job(deployment: Deployment) -> dict[str, Any]:
    response = httpx.get(f"{deployment.gateway_url}/api/v1/job/read?limit=1")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["items"][0]
    return job


def test_kubectl_apply_is_a_first_class_client(deployment: Deployment, jfk: Path) -> None:
    url = deployment.upload(jfk)
    deployment.cluster.apply(
        transcription_job("from-kubectl", url, outputFormats=["srt", "txt"], **RUNNER),
        deployment.namespace,
    )
    tj = deployment.wait_phase("from-kubectl", {"Succeeded", "Failed"})
    assert tj["status"]["phase"] == "Succeeded", tj["status"]
    job_id = tj["metadata"]["labels"]["audiotext.io/job-id"]
    row = job_row(deployment, job_id)
    assert row["status"] == "completed" and wer(JFK_TEXT, row["result_text"]) <= 0.1
    # No model in its spec: the operator's default shows in its status and in `kubectl get`.
    assert tj["status"]["model"] == "tiny.en"
    columns = kubectl_columns(deployment.cluster, deployment.namespace)
    assert columns["MODEL"][columns["NAME"].index("from-kubectl")] == "tiny.en"
    # The artifacts it asked for, listed in its status; JSON is kept for the API's transcripts.
    outputs = tj["status"]["outputs"]
    assert sorted(outputs) == ["srt", "txt"]
    s3 = deployment.servers.minio.client()
    stored = {
        o["Key"].rsplit("/", 1)[-1]
        for o in s3.list_objects_v2(Bucket=deployment.bucket, Prefix="jobs/")["Contents"]
        if job_id in o["Key"]
    }
    assert {name.rsplit(".", 1)[-1] for name in stored} == {"srt", "txt", "json"}, stored
    assert outputs["srt"].endswith(".srt") and job_id in outputs["srt"]
    # The spec cannot change once created.
    patched = deployment.cluster.run(
        "patch",
        "tj",
        "from-kubectl",
        "-n",
        deployment.namespace,
        "--type=merge",
        "-p",
        '{"spec": {"model": "large-v3"}}',
        check=False,
    )
    assert patched.returncode != 0 and "immutable" in patched.stderr


def test_gpu_jobs_land_on_the_gpu_node_and_cpu_jobs_never_do(
    deployment: Deployment, jfk: Path, very_long_speech: Path
) -> None:
    cluster, ns = deployment.cluster, deployment.namespace
    cluster.apply(transcription_job("on-gpu", deployment.upload(jfk), device="gpu", gpus=1), ns)
    # Long enough to be still running when it is deleted.
    cluster.apply(
        transcription_job("on-cpu", deployment.upload(very_long_speech), device="cpu"), ns
    )

    def scheduled(name: str) -> str | None:
        pods = deployment.pods(name)
        return pods[0]["spec"].get("nodeName") if pods else None

    assert cluster.wait_for("gpu pod scheduled", lambda: scheduled("on-gpu")) == "gpu-node-0"
    assert cluster.wait_for("cpu pod scheduled", lambda: scheduled("on-cpu")) == "runner-node-0"
    gpu_job = deployment.jobs("on-gpu")[0]["spec"]["template"]["spec"]
    assert gpu_job["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu_job["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    cpu_job = deployment.jobs("on-cpu")[0]["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in cpu_job["containers"][0].get("resources", {}).get("limits", {})
    assert "nvidia.com/gpu.present" not in cpu_job.get("nodeSelector", {})
    ids = {name: job_id_of(deployment, name) for name in ("on-gpu", "on-cpu")}
    assert deployment.resource("on-cpu")["status"]["phase"] not in FINAL_PHASES
    # Deleting a resource garbage-collects its Job, and an unfinished one's row is cancelled.
    cluster.run("delete", "tj", "on-gpu", "on-cpu", "-n", ns, timeout=90)
    cluster.wait_for(
        "Jobs garbage-collected",
        lambda: not deployment.jobs("on-gpu") and not deployment.jobs("on-cpu"),
        timeout=60,
    )
    assert job_row(deployment, ids["on-cpu"])["status"] == "cancelled"
    # kwok "completes" the GPU pod at once, without a worker: that row failed first (NoResult).
    assert job_row(deployment, ids["on-gpu"])["status"] in ("cancelled", "failed")

    # A resource for a job whose row is final already gets no Job: it takes the row's state.
    replayed = transcription_job("replayed", deployment.upload(jfk), **RUNNER)
    replayed["metadata"]["labels"] = {"audiotext.io/job-id": ids["on-cpu"]}
    cluster.apply(replayed, ns)
    tj = deployment.wait_phase("replayed", FINAL_PHASES, timeout=60)
    assert tj["status"]["phase"] == "Cancelled", tj["status"]
    assert not deployment.jobs("replayed")
    assert job_row(deployment, ids["on-cpu"])["status"] == "cancelled"
    cluster.run("delete", "tj", "replayed", "-n", ns)


def job_id_of(deployment: Deployment, name: str) -> str:
    """The job id of a resource made with kubectl (the operator labels it)."""
    return str(
        deployment.cluster.wait_for(
            f"{name} to have a job id",
            lambda: (
                deployment.resource(name)["metadata"].get("labels", {}).get("audiotext.io/job-id")
            ),
        )
    )


def test_a_job_deleted_from_outside_fails_its_resource(
    deployment: Deployment, very_long_speech: Path
) -> None:
    cluster, ns = deployment.cluster, deployment.namespace
    cluster.apply(transcription_job("lost-job", deployment.upload(very_long_speech), **RUNNER), ns)
    tj = deployment.wait_phase("lost-job", {"Running"})
    cluster.run("delete", "job", tj["status"]["jobName"], "-n", ns)
    tj = deployment.wait_phase("lost-job", FINAL_PHASES, timeout=90)
    status = tj["status"]
    assert status["phase"] == "Failed", status
    assert {c["type"]: c.get("reason") for c in status["conditions"]}["Failed"] == "JobDeleted"
    assert "deleted" in status["message"]
    row = job_row(deployment, tj["metadata"]["labels"]["audiotext.io/job-id"])
    assert row["status"] == "failed" and "deleted" in row["error_message"]
    events = cluster.run("describe", "tj", "lost-job", "-n", ns).stdout
    assert "JobDeleted" in events


def test_any_resource_name_up_to_253_characters_runs(deployment: Deployment, jfk: Path) -> None:
    name = "long-" * 49 + "name"  # 249 characters: too long for a label value
    cluster, ns = deployment.cluster, deployment.namespace
    cluster.apply(transcription_job(name, deployment.upload(jfk), **RUNNER), ns)
    tj = deployment.wait_phase(name, FINAL_PHASES)
    assert tj["status"]["phase"] == "Succeeded", tj["status"]
    assert tj["status"]["progress"] == 100
    row = job_row(deployment, tj["metadata"]["labels"]["audiotext.io/job-id"])
    assert row["status"] == "completed"
    cluster.run("delete", "tj", name, "-n", ns)


def test_a_job_the_api_server_refuses_fails_with_invalid_spec(
    deployment: Deployment, jfk: Path
) -> None:
    cluster, ns = deployment.cluster, deployment.namespace
    # The CRD accepts any string map; the Job's validation refuses this label key (422).
    refused = transcription_job(
        "refused", deployment.upload(jfk), nodeSelector={"not a label key!": "x"}, **RUNNER
    )
    cluster.apply(refused, ns)
    tj = deployment.wait_phase("refused", FINAL_PHASES, timeout=60)
    status = tj["status"]
    assert status["phase"] == "Failed", status
    assert {c["type"]: c.get("reason") for c in status["conditions"]}["Failed"] == "InvalidSpec"
    assert "invalid" in status["message"] and "nodeSelector" in status["message"]
    assert not deployment.jobs("refused")
    row = job_row(deployment, tj["metadata"]["labels"]["audiotext.io/job-id"])
    assert row["status"] == "failed" and "invalid" in row["error_message"]
    warnings = cluster.json(
        "get", "events", "-n", ns, "--field-selector", "type=Warning,reason=InvalidSpec"
    )
    assert [e for e in warnings["items"] if e["involvedObject"]["name"] == "refused"]


async def test_not_audio_fails_at_once_without_retry(
    deployment: Deployment, tmp_path: Path
) -> None:
    fake = tmp_path / "notes.flac"
    fake.write_bytes(b"fLaC" + b"definitely not audio " * 200)
    url = deployment.upload(fake)
    deployment.cluster.apply(transcription_job("not-audio", url, **RUNNER), deployment.namespace)
    tj = deployment.wait_phase("not-audio", {"Succeeded", "Failed"})
    status = tj["status"]
    assert status["phase"] == "Failed", status
    assert status["attempts"] == 1
    reasons = {c["type"]: c.get("reason") for c in status["conditions"]}
    assert reasons["Failed"] == "BadInput"
    assert "decod" in status["message"] or "audio" in status["message"]
    row = job_row(deployment, tj["metadata"]["labels"]["audiotext.io/job-id"])
    assert row["status"] == "failed" and row["attempts"] == 1


async def test_killed_pod_is_retried_then_succeeds(
    deployment: Deployment, very_long_speech: Path
) -> None:
    # Seven minutes: the job is surely still running when its pod is deleted (a minute's job
    # could end between its first progress and the delete).
    job_id = await submit_running(deployment, very_long_speech)
    # The operator copies the worker's progress from the database to the resource.
    deployment.cluster.wait_for(
        "the resource to show progress",
        lambda: deployment.resource(job_id).get("status", {}).get("progress", 0) > 0,
        timeout=30,
        interval=0.3,
    )
    pod = deployment.pods(job_id)[0]["metadata"]["name"]
    deployment.cluster.run("delete", "pod", pod, "-n", deployment.namespace, "--wait=false")
    tj = deployment.wait_phase(job_id, {"Succeeded", "Failed"}, timeout=300)
    assert tj["status"]["phase"] == "Succeeded", tj["status"]
    assert tj["status"]["attempts"] == 2
    row = job_row(deployment, job_id)
    assert row["status"] == "completed" and row["attempts"] == 2


def worker_process(job_id: str) -> int:
    """The host PID of the worker process running ``job_id`` on runner-node-0."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in argv and job_id.encode() in argv:
            return int(proc.name)
    raise AssertionError(f"no worker process for job {job_id} on this machine")


async def test_a_hung_worker_is_restarted_then_succeeds(
    deployment: Deployment, very_long_speech: Path
) -> None:
    deployment.stop_operator()
    deployment.start_operator(AUDIOTEXT_STALE_JOB_SECONDS="15")
    stopped = 0
    try:
        job_id = await submit_running(deployment, very_long_speech)
        pod = deployment.pods(job_id)[0]["metadata"]["name"]
        # The worker is its container's PID 1, which ignores signals sent from inside; the
        # node is this machine, so the test stops it from here: the pod runs, the job is silent.
        stopped = worker_process(job_id)
        os.kill(stopped, signal.SIGSTOP)
        tj = deployment.wait_phase(job_id, {"Succeeded", "Failed"}, timeout=400)
        assert tj["status"]["phase"] == "Succeeded", tj["status"]
        assert tj["status"]["attempts"] == 2
        row = job_row(deployment, job_id)
        assert row["status"] == "completed" and row["attempts"] == 2
        events = deployment.cluster.json(
            "get", "events", "-n", deployment.namespace,
            "--field-selector", f"involvedObject.name={job_id},reason=WorkerStalled",
        )  # fmt: skip
        assert events["items"], "no WorkerStalled event on the resource"
        assert pod in events["items"][0]["message"]
    finally:
        if stopped:
            # Let the stopped worker take its SIGTERM and go, so no stopped container is
            # left on the node for the next test's pods.
            with contextlib.suppress(ProcessLookupError):
                os.kill(stopped, signal.SIGCONT)
        deployment.stop_operator()
        deployment.start_operator()


def test_deadline_exceeded_fails_with_the_reason(deployment: Deployment, long_speech: Path) -> None:
    url = deployment.upload(long_speech)
    deployment.cluster.apply(
        transcription_job("too-slow", url, activeDeadlineSeconds=3, **RUNNER), deployment.namespace
    )
    tj = deployment.wait_phase("too-slow", {"Succeeded", "Failed"})
    assert tj["status"]["phase"] == "Failed"
    assert {c["type"]: c.get("reason") for c in tj["status"]["conditions"]}["Failed"] == (
        "DeadlineExceeded"
    )
    assert "deadline" in tj["status"]["message"]
    row = job_row(deployment, tj["metadata"]["labels"]["audiotext.io/job-id"])
    assert row["status"] == "failed" and "deadline" in row["error_message"]


async def test_operator_restart_mid_job_resumes_with_one_job(
    deployment: Deployment, long_speech: Path
) -> None:
    job_id = await submit(deployment, long_speech)
    deployment.wait_phase(job_id, {"Running"})
    deployment.stop_operator(kill=True)
    await asyncio.sleep(3)
    deployment.start_operator()
    tj = deployment.wait_phase(job_id, {"Succeeded", "Failed"}, timeout=300)
    assert tj["status"]["phase"] == "Succeeded", tj["status"]
    assert len(deployment.jobs(job_id)) == 1
    assert job_row(deployment, job_id)["status"] == "completed"


async def test_cancel_through_the_api_deletes_the_job(
    deployment: Deployment, very_long_speech: Path
) -> None:
    job_id = await submit(deployment, very_long_speech)
    deployment.wait_phase(job_id, {"Running"})
    response = httpx.delete(f"{deployment.gateway_url}/api/v1/job/{job_id}")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    tj = deployment.wait_phase(job_id, {"Cancelled"})
    assert {c["type"]: c["status"] for c in tj["status"]["conditions"]}["Cancelled"] == "True"
    deployment.cluster.wait_for(
        "the Job and its pods to go",
        lambda: not deployment.jobs(job_id) and not deployment.pods(job_id),
        timeout=90,
    )
    await asyncio.sleep(2)
    assert job_row(deployment, job_id)["status"] == "cancelled"


def test_a_queued_job_waits_suspended_for_kueue(deployment: Deployment, jfk: Path) -> None:
    url = deployment.upload(jfk)
    ns = deployment.namespace
    deployment.cluster.apply(transcription_job("queued", url, queueName="team-a", **RUNNER), ns)
    tj = deployment.wait_phase("queued", {"Queued"}, timeout=60)
    job = deployment.jobs("queued")[0]
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    assert not deployment.pods("queued")  # nothing runs until Kueue admits it
    assert tj["status"]["progress"] == 0
    deployment.cluster.run("delete", "tj", "queued", "-n", ns)


async def test_a_resource_that_cannot_be_created_fails_the_row_with_503(
    deployment: Deployment, jfk: Path
) -> None:
    """The gateway's service account may not write resources in kube-public: 403 → 503."""
    url = deployment.upload(jfk)
    elsewhere = deployment.start_gateway("gateway-elsewhere", AUDIOTEXT_NAMESPACE="kube-public")
    try:
        async with httpx.AsyncClient(base_url=elsewhere, timeout=60) as client:
            response = await client.post(
                "/api/v1/job/transcribe", json={"filename": "jfk.flac", "url": url}
            )
    finally:
        deployment.stop("gateway-elsewhere")
    assert response.status_code == 503, response.text
    listed = httpx.get(f"{deployment.gateway_url}/api/v1/job/read?status=failed").json()
    failed = [
        job for job in listed["items"] if "could not be scheduled" in (job["error_message"] or "")
    ]
    assert len(failed) == 1, failed
    assert "403" in failed[0]["error_message"]
    # No orphan: no resource anywhere carries that job's id.
    listing = deployment.cluster.json(
        "get", "tj", "-A", "-l", f"audiotext.io/job-id={failed[0]['id']}"
    )
    assert listing["items"] == []


def test_a_job_of_another_owner_with_the_same_name_is_not_adopted(
    deployment: Deployment, jfk: Path
) -> None:
    """As when a resource is deleted and made again before the old Job is collected."""
    cluster, ns = deployment.cluster, deployment.namespace
    cluster.run("create", "configmap", "earlier-owner", "-n", ns)
    owner_uid = cluster.json("get", "configmap", "earlier-owner", "-n", ns)["metadata"]["uid"]
    cluster.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "clash-worker",
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": "earlier-owner",
                        "uid": owner_uid,
                    }
                ],
            },
            "spec": {
                "suspend": True,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {"name": "main", "image": "localhost/audiotext-testbox:dev"}
                        ],
                    }
                },
            },
        },
        ns,
    )
    cluster.apply(transcription_job("clash", deployment.upload(jfk), **RUNNER), ns)
    cluster.wait_for(
        "the operator to find the Job is another's",
        lambda: (
            "belongs to another resource" in cluster.run("describe", "tj", "clash", "-n", ns).stdout
        ),
        timeout=60,
    )
    job = cluster.json("get", "job", "clash-worker", "-n", ns)
    assert [ref["uid"] for ref in job["metadata"]["ownerReferences"]] == [owner_uid]
    assert deployment.resource("clash")["status"]["phase"] == "Pending"  # and no Job of its own
    # Once the earlier owner's Job is collected, the resource gets a Job of its own.
    cluster.run("delete", "configmap", "earlier-owner", "-n", ns)
    tj = deployment.wait_phase("clash", FINAL_PHASES)
    assert tj["status"]["phase"] == "Succeeded", tj["status"]
    cluster.run("delete", "tj", "clash", "-n", ns)
