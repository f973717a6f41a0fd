"""The Kubernetes path end to end: gateway → TranscriptionJob → operator → Job → worker pod."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from deployment import Deployment, kubectl_columns
from helpers import JFK_TEXT
from wer import wer

pytestmark = [pytest.mark.k8s, pytest.mark.slow]


async def follow(url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with websockets.connect(url) as socket:
        async with asyncio.timeout(240):
            async for raw in socket:
                messages.append(json.loads(raw))
    return messages


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
    events = deployment.cluster.run("describe", "tj", job_id, "-n", deployment.namespace).stdout
    assert "JobCreated" in events and "Completed" in events
