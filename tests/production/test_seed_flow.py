"""The seed's whole flow on PostgreSQL + Redis + MinIO, every part a separate process."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
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

from helpers import JFK_TEXT, presign
from processes import AUDIOTEXT, Gateway, Production, start_gateway
from wer import wer

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3, pytest.mark.slow]


def bucket_objects(production: Production) -> list[str]:
    bucket = production.storage_url.split("/")[2]
    s3 = boto3.client("s3", endpoint_url=production.aws["AWS_ENDPOINT_URL"])
    listing = s3.list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listing.get("Contents", []))


async def collect(ws_url: str, count_into: list[list[dict[str, Any]]]) -> None:
    messages: list[dict[str, Any]] = []
    count_into.append(messages)
    async with websockets.connect(ws_url) as socket:
        async for raw in socket:
            messages.append(json.loads(raw))
        assert socket.close_code == 1000


async def test_presigned_s3_upload_to_transcript(
    production: Production, gateways: list[Gateway], jfk: Path
) -> None:
    upgrade(production.database_url)
    gateway = start_gateway(production.env())
    gateways.append(gateway)
    data = jfk.read_bytes()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
        signed = await presign(client, "jfk.flac", "audio/flac", data)
        assert signed["url"].startswith(production.storage_url)
        assert signed["upload_url"].startswith(production.aws["AWS_ENDPOINT_URL"])
        # The store itself refuses what was not signed.
        async with httpx.AsyncClient(timeout=30) as plain:
            wrong = await plain.put(
                signed["upload_url"], content=data, headers={"Content-Type": "audio/wav"}
            )
            assert wrong.status_code == 403
            put = await plain.put(signed["upload_url"], content=data, headers=signed["headers"])
            assert put.status_code == 200, put.text

        created = await client.post(
            "/api/v1/job/transcribe", json={"filename": "jfk.flac", "url": signed["url"]}
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        streams: list[list[dict[str, Any]]] = []
        await collect(f"{gateway.url.replace('http', 'ws')}/api/v1/job/ws/{job_id}", streams)
        assert streams[0][-1]["status"] == "completed"
        assert wer(JFK_TEXT, streams[0][-1]["result_text"]) <= 0.1
        for fmt in ("txt", "json", "srt", "vtt"):
            response = await client.get(f"/api/v1/job/{job_id}/transcript?format={fmt}")
            assert response.status_code == 200
    keys = bucket_objects(production)
    prefix = production.storage_url.split("/", 3)[3]
    for fmt in ("txt", "json", "srt", "vtt"):
        assert f"{prefix}/transcripts/{job_id}/transcript.{fmt}" in keys


async def test_rejected_s3_upload_leaves_nothing(
    production: Production, gateways: list[Gateway]
) -> None:
    upgrade(production.database_url)
    gateway = start_gateway(production.env())
    gateways.append(gateway)
    junk = b"%PDF-1.7 this is a document, not audio" * 100
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
        signed = await presign(client, "a.mp3", "audio/mpeg", junk)
        async with httpx.AsyncClient() as plain:
            assert (
                await plain.put(signed["upload_url"], content=junk, headers=signed["headers"])
            ).status_code == 200
        response = await client.post(
            "/api/v1/job/transcribe", json={"filename": "a.mp3", "url": signed["url"]}
        )
        assert response.status_code == 415
        assert (await client.get("/api/v1/job/read")).json()["total"] == 0
    assert bucket_objects(production) == []


async def test_worker_process_events_reach_clients_of_two_gateways(
    production: Production, gateways: list[Gateway], jfk: Path
) -> None:
    """A worker process publishes; two gateway processes fan out to all of their clients."""
    upgrade(production.database_url)
    gateways.extend(start_gateway(production.env()) for _ in range(2))
    settings = Settings(
        database_url=production.database_url,
        storage_url=production.storage_url,
        redis_url=production.redis_url,
    )
    storage = open_storage(settings)
    key = upload_key("jfk.flac")
    await storage.put_file(key, jfk, "audio/flac")
    db = Database(settings.resolved_database_url)
    row = await JobRepository(db).add(
        TranscriptionJobRow(
            filename="jfk.flac",
            url=storage.url_for(key),
            model="tiny.en",
            engine="faster-whisper",
            task="transcribe",
            options={},
        )
    )
    await db.close()

    streams: list[list[dict[str, Any]]] = []
    listeners = [
        asyncio.create_task(
            collect(f"{g.url.replace('http', 'ws')}/api/v1/job/ws/{row.id}", streams)
        )
        for g in gateways
        for _ in range(3)
    ]
    while len(streams) < len(listeners) or not all(streams):
        await asyncio.sleep(0.05)  # every client has its first (current) state

    worker = await asyncio.create_subprocess_exec(
        AUDIOTEXT, "worker", row.id, env=production.env(), stderr=subprocess.PIPE
    )
    _, stderr = await worker.communicate()
    assert worker.returncode == exit_codes.COMPLETED, stderr.decode()[-2000:]
    await asyncio.wait_for(asyncio.gather(*listeners), timeout=60)

    for messages in streams:
        assert messages[0]["status"] == "pending"
        assert messages[-1]["status"] == "completed"
        assert wer(JFK_TEXT, messages[-1]["result_text"]) <= 0.1
        progress = [m["progress"] for m in messages]
        assert progress == sorted(progress)
    # Every client saw the same sequence of updates, in the same order.
    sequences = {tuple((m["status"], m["progress"]) for m in s) for s in streams}
    assert len(sequences) == 1, sequences


async def test_worker_exit_codes(production: Production, jfk: Path, tmp_path: Path) -> None:
    upgrade(production.database_url)
    settings = Settings(database_url=production.database_url, storage_url=production.storage_url)
    storage = open_storage(settings)
    key = upload_key("notes.wav")
    await storage.put_bytes(key, b"not audio at all" * 100, "audio/wav")
    db = Database(settings.resolved_database_url)
    row = await JobRepository(db).add(
        TranscriptionJobRow(
            filename="notes.wav",
            url=storage.url_for(key),
            model="tiny.en",
            engine="faster-whisper",
            task="transcribe",
            options={},
        )
    )

    async def run(job_id: str, **env: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            AUDIOTEXT, "worker", job_id, env=production.env(**env), stderr=subprocess.PIPE
        )
        _, stderr = await process.communicate()
        assert process.returncode is not None
        return process.returncode, stderr.decode()

    code, stderr = await run(row.id)
    assert code == exit_codes.BAD_INPUT, stderr
    assert "not audio" in stderr
    assert "not audio" in (production.tmp / "termination-log").read_text()
    failed = await JobRepository(db).get(row.id)
    assert failed.status.value == "failed" and "not audio" in (failed.error_message or "")

    code, stderr = await run("no-such-job")
    assert code == exit_codes.BAD_INPUT and "does not exist" in stderr

    unreachable = "postgresql+psycopg://nobody:x@127.0.0.1:9/none"
    code, stderr = await run(row.id, AUDIOTEXT_DATABASE_URL=unreachable)
    assert code == exit_codes.TRANSIENT, stderr
    assert "database unavailable" in stderr
    await db.close()
