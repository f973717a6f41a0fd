"""Faults with real processes killed for real: no job lost, none stuck."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from audiotext.config import Settings
from audiotext.db.migrate import upgrade
from audiotext.db.models import TranscriptionJobRow
from audiotext.db.repository import JobRepository
from audiotext.db.session import Database
from audiotext.jobs import exit_codes
from audiotext.storage import open_storage, upload_key

from helpers import final, make_settings, running_app, wait_for
from processes import AUDIOTEXT, Gateway, Production, start_gateway
from support.servers import MinioServer, RedisServer

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3, pytest.mark.slow]


async def seed_job(production: Production, audio: Path) -> str:
    """A pending job for an object already in storage, as the gateway would leave it."""
    upgrade(production.database_url)
    settings = Settings(database_url=production.database_url, storage_url=production.storage_url)
    storage = open_storage(settings)
    key = upload_key(audio.name)
    await storage.put_file(key, audio, "audio/flac")
    db = Database(settings.resolved_database_url)
    row = await JobRepository(db).add(
        TranscriptionJobRow(
            filename=audio.name,
            url=storage.url_for(key),
            model="tiny.en",
            engine="faster-whisper",
            task="transcribe",
            options={},
        )
    )
    await db.close()
    return row.id


async def row_of(production: Production, job_id: str) -> TranscriptionJobRow:
    db = Database(Settings(database_url=production.database_url).resolved_database_url)
    try:
        return await JobRepository(db).get(job_id)
    finally:
        await db.close()


async def wait_row(
    production: Production, job_id: str, predicate: Any, timeout: float = 120
) -> TranscriptionJobRow:
    deadline = time.monotonic() + timeout
    while True:
        row = await row_of(production, job_id)
        if predicate(row):
            return row
        assert time.monotonic() < deadline, f"{row.status} {row.progress} {row.error_message}"
        await asyncio.sleep(0.2)


async def start_worker(production: Production, job_id: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        AUDIOTEXT,
        "worker",
        job_id,
        env=production.env(AUDIOTEXT_HEARTBEAT_SECONDS="1"),
        stderr=subprocess.PIPE,
    )


async def test_killed_worker_is_reaped_and_its_job_finished(
    production: Production, gateways: list[Gateway], long_speech: Path
) -> None:
    job_id = await seed_job(production, long_speech)
    worker = await start_worker(production, job_id)
    await wait_row(production, job_id, lambda r: r.progress > 0)
    worker.kill()  # SIGKILL: no chance to hand the job back
    await worker.wait()
    assert (await row_of(production, job_id)).status.value == "processing"

    gateways.append(
        start_gateway(
            production.env(AUDIOTEXT_STALE_JOB_SECONDS="3", AUDIOTEXT_HEARTBEAT_SECONDS="1")
        )
    )
    row = await wait_row(production, job_id, lambda r: r.status.is_final, timeout=180)
    assert row.status.value == "completed", row.error_message
    assert row.attempts == 2


async def test_sigterm_hands_the_job_back(production: Production, long_speech: Path) -> None:
    job_id = await seed_job(production, long_speech)
    worker = await start_worker(production, job_id)
    await wait_row(production, job_id, lambda r: r.progress > 0)
    worker.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(worker.communicate(), timeout=30)
    assert worker.returncode == exit_codes.TRANSIENT, stderr.decode()
    row = await row_of(production, job_id)
    assert row.status.value == "pending" and "handed back" in (row.error_message or "")


async def test_redis_down_status_still_answers_and_clients_get_the_final_state(
    production: Production, gateways: list[Gateway], redis_server: RedisServer, jfk: Path
) -> None:
    upgrade(production.database_url)
    gateway = start_gateway(production.env())
    gateways.append(gateway)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
        await asyncio.to_thread(redis_server.stop)
        try:
            ready = (await client.get("/readyz")).json()
            assert ready["status"] == "unavailable"
            assert ready["checks"]["bus"].startswith("unavailable")
            assert ready["checks"]["database"] == "ok"
            files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
            created = await client.post("/api/v1/job/transcribe", files=files)
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]
            ws = f"{gateway.url.replace('http', 'ws')}/api/v1/job/ws/{job_id}"
            messages: list[dict[str, Any]] = []
            async with websockets.connect(ws) as socket:
                async with asyncio.timeout(60):
                    async for raw in socket:
                        messages.append(json.loads(raw))
            assert messages[-1]["status"] == "completed", "polling fallback delivers the end"
            status = await client.get(f"/api/v1/job/status/{job_id}")
            assert status.status_code == 200 and status.json()["status"] == "completed"
        finally:
            await asyncio.to_thread(redis_server.start)
        for _ in range(50):
            if (await client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.2)
        assert (await client.get("/readyz")).status_code == 200


async def test_minio_down_clear_error_and_no_job_lost(
    production: Production,
    gateways: list[Gateway],
    minio_server: MinioServer,
    jfk: Path,
    long_speech: Path,
) -> None:
    upgrade(production.database_url)
    gateway = start_gateway(production.env())
    gateways.append(gateway)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
        files = {"file": ("long.flac", long_speech.read_bytes(), "audio/flac")}
        running = (await client.post("/api/v1/job/transcribe", files=files)).json()
        for _ in range(300):
            job = (await client.get(f"/api/v1/job/status/{running['id']}")).json()
            if job["progress"] > 0:
                break
            await asyncio.sleep(0.1)

        await asyncio.to_thread(minio_server.stop)
        try:
            presign = await client.post(
                "/api/v1/audio/presigned-url",
                json={"filename": "a.flac", "content_type": "audio/flac", "size": 100},
            )
            # Signing needs no call to the store; the client's upload is what fails.
            assert presign.status_code == 200
            with pytest.raises(httpx.TransportError):
                await client.put(
                    presign.json()["upload_url"],
                    content=b"x" * 100,
                    headers=presign.json()["headers"],
                )
            files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
            refused = await client.post("/api/v1/job/transcribe", files=files)
            assert refused.status_code == 503
            assert (
                (await client.get("/readyz")).json()["checks"]["storage"].startswith("unavailable")
            )
            await asyncio.sleep(8)  # the running job meets the outage when it writes results
        finally:
            await asyncio.to_thread(minio_server.start)

        deadline = time.monotonic() + 180
        while True:
            job = (await client.get(f"/api/v1/job/status/{running['id']}")).json()
            if job["status"] in ("completed", "failed", "cancelled"):
                break
            assert time.monotonic() < deadline, job
            await asyncio.sleep(0.5)
        assert job["status"] == "completed", job
        listing = (await client.get("/api/v1/job/read")).json()
        assert listing["total"] == 1, "the refused upload left no row"


async def test_a_run_an_outage_cut_short_is_handed_back_with_an_event(
    production: Production, minio_server: MinioServer, tmp_path: Path, long_speech: Path
) -> None:
    """The local executor hands an interrupted run back through the job service, so its
    subscribers (WebSocket clients) see it pending again at once, not at a fallback poll."""
    settings = make_settings(tmp_path, storage_url=production.storage_url)
    async with running_app(settings) as (app, client):
        files = {"file": ("long.flac", long_speech.read_bytes(), "audio/flac")}
        job_id = (await client.post("/api/v1/job/transcribe", files=files)).json()["id"]
        async with app.state.services.jobs.subscribe(job_id) as events:
            await wait_for(client, job_id, lambda j: j["progress"] > 0)
            # The run meets the outage when it writes the transcript.
            await asyncio.to_thread(minio_server.stop)
            try:
                async with asyncio.timeout(120):
                    async for event in events:
                        if event["status"] == "pending":
                            break
            finally:
                await asyncio.to_thread(minio_server.start)
        assert event["error_message"] == "a backend was unavailable; retrying"
        assert event["attempts"] == 0, "an outage's interruption is not one of the attempts"
        job = await wait_for(client, job_id, final, timeout=180)
        assert job["status"] == "completed", job
