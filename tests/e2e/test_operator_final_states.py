"""Jobs the operator finishes: their webhooks are sent, and a database outage cannot leave
their rows unfinished.

Worker Jobs here are held (in a Kueue queue that does not exist, so admits nothing) until a
test releases them, and run on the simulated GPU node, which completes their pods without
running the worker: so the operator itself fails each job (the worker recorded no result).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from deployment import Deployment
from helpers import webhook_receiver

pytestmark = [pytest.mark.k8s, pytest.mark.slow]

WEBHOOKS = {
    "AUDIOTEXT_WEBHOOK_SECRET": "e2e-hook-secret",
    "AUDIOTEXT_WEBHOOK_ALLOW_PRIVATE": "true",
}
FINAL = ("completed", "failed", "cancelled")


@pytest.fixture(scope="module")
def holding(deployment: Deployment) -> Iterator[Deployment]:
    """The deployment with webhooks on, GPU jobs, and worker Jobs held until released."""
    deployment.stop_operator()
    deployment.start_operator(**WEBHOOKS, AUDIOTEXT_WORKER_QUEUE_NAME="held")
    deployment.stop("gateway")
    deployment.start_gateway(**WEBHOOKS, AUDIOTEXT_WORKER_DEVICE="gpu")
    yield deployment


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    async with webhook_receiver() as receiver:
        yield receiver


async def submit(deployment: Deployment, url: str, callback_url: str) -> str:
    async with httpx.AsyncClient(base_url=deployment.gateway_url, timeout=60) as client:
        created = await client.post(
            "/api/v1/job/transcribe",
            json={"filename": "jfk.flac", "url": url, "callback_url": callback_url},
        )
    assert created.status_code == 202, created.text
    return str(created.json()["id"])


def held_job(deployment: Deployment, job_id: str) -> dict[str, Any]:
    """The job's worker Job, once the operator has made it (suspended)."""
    found: dict[str, Any] = deployment.cluster.wait_for(
        "the worker Job", lambda: next(iter(deployment.jobs(job_id)), None), timeout=60
    )
    assert found["spec"]["suspend"] is True, found["spec"]
    return found


def release(deployment: Deployment, job_id: str) -> None:
    """Let a held Job run: out of Kueue's hands first (its queue admits nothing), then on."""
    job, ns = f"{job_id}-worker", deployment.namespace
    deployment.cluster.run("label", "job", job, "-n", ns, "kueue.x-k8s.io/queue-name-")
    deployment.cluster.run(
        "patch", "job", job, "-n", ns,
        "--type=merge", "-p", json.dumps({"spec": {"suspend": False}}),
    )  # fmt: skip


async def row(deployment: Deployment, job_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{deployment.gateway_url}/api/v1/job/status/{job_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def final_row(deployment: Deployment, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            job = await row(deployment, job_id)
            if job["status"] in FINAL:
                return job
        except (httpx.TransportError, AssertionError):
            job = {}  # the gateway's database is coming back
        assert time.monotonic() < deadline, f"{job}\noperator log:\n{deployment.log('operator')}"
        await asyncio.sleep(0.5)


async def deliveries(received: list[dict[str, Any]], job_id: str) -> list[dict[str, Any]]:
    """The webhook deliveries of one job, once the first has come and a few seconds have
    passed in which a second would have come too."""
    for _ in range(300):
        if any(json.loads(d["body"])["id"] == job_id for d in received):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(6)  # more than a round of the operator's retries
    return [d for d in received if json.loads(d["body"])["id"] == job_id]


async def test_jobs_the_operator_fails_or_cancels_send_their_webhook(
    holding: Deployment, hook: tuple[str, list[dict[str, Any]]], jfk: Any
) -> None:
    url, received = hook
    failing = await submit(holding, holding.upload(jfk), url)
    cancelled = await submit(holding, holding.upload(jfk), url)
    held_job(holding, failing)
    held_job(holding, cancelled)

    release(holding, failing)
    job = await final_row(holding, failing, timeout=120)
    assert job["status"] == "failed", job
    assert "without recording a result" in job["error_message"]
    (delivery,) = await deliveries(received, failing)
    assert delivery["headers"]["x-audiotext-event"] == "job.failed"
    assert json.loads(delivery["body"])["status"] == "failed"

    holding.cluster.run(
        "annotate", "tj", cancelled, "-n", holding.namespace, "audiotext.io/cancel=true"
    )
    job = await final_row(holding, cancelled, timeout=60)
    assert job["status"] == "cancelled", job
    (delivery,) = await deliveries(received, cancelled)
    assert delivery["headers"]["x-audiotext-event"] == "job.cancelled"

    # Every replica counts the jobs any process finished, not only those it finished itself.
    metrics = httpx.get(f"{holding.gateway_url}/metrics").text
    assert 'audiotext_jobs_finished_total{status="failed"} 1.0' in metrics, metrics
    assert 'audiotext_jobs_finished_total{status="cancelled"} 1.0' in metrics, metrics


async def test_a_job_that_fails_while_the_database_is_down_is_failed_once_it_is_back(
    holding: Deployment, hook: tuple[str, list[dict[str, Any]]], jfk: Any
) -> None:
    url, received = hook
    job_id = await submit(holding, holding.upload(jfk), url)
    held_job(holding, job_id)
    postgres = holding.servers.postgres
    await asyncio.to_thread(postgres.stop)
    try:
        release(holding, job_id)
        holding.cluster.wait_for(
            "the Job to end",
            lambda: any(
                c.get("status") == "True" and c.get("type") in ("Complete", "Failed")
                for c in holding.jobs(job_id)[0].get("status", {}).get("conditions", [])
            ),
            timeout=60,
        )
        await asyncio.sleep(8)  # the operator meets the outage, more than once
        # The row comes first: the resource does not say Failed while its row cannot.
        assert holding.resource(job_id)["status"]["phase"] not in ("Failed", "Succeeded")
    finally:
        await asyncio.to_thread(postgres.start)
    job = await final_row(holding, job_id, timeout=60)
    assert job["status"] == "failed", job
    assert "without recording a result" in job["error_message"]
    (delivery,) = await deliveries(received, job_id)
    assert delivery["headers"]["x-audiotext-event"] == "job.failed"
    tj = holding.wait_phase(job_id, {"Failed"}, timeout=30)
    assert tj["status"]["message"] == job["error_message"]
