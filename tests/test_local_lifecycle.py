"""Jobs never stay processing: restarts resume them, cancels stop them, crashes are recovered."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from audiotext.db.migrate import upgrade
from audiotext.db.models import TranscriptionJobRow, utcnow
from audiotext.db.repository import JobRepository
from audiotext.db.session import Database
from audiotext.jobs.states import JobStatus
from audiotext.storage import open_storage, upload_key

from helpers import JFK_TEXT, final, free_port, make_settings, running_app, wait_for
from wer import wer

pytestmark = pytest.mark.slow


async def test_restart_requeues_interrupted_jobs(tmp_path: Path, jfk: Path) -> None:
    """Rows a crashed server left behind: resumed, or failed once attempts are used up."""
    settings = make_settings(tmp_path, max_attempts=3)
    silent_since = utcnow() - timedelta(seconds=settings.stale_job_seconds + 60)
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    storage = open_storage(settings)
    db = Database(settings.resolved_database_url)
    repo = JobRepository(db)
    rows = {}
    for name, status, attempts in (
        ("running", JobStatus.PROCESSING, 1),
        ("queued", JobStatus.PENDING, 0),
        ("exhausted", JobStatus.PROCESSING, 3),
    ):
        key = upload_key("jfk.flac")
        await storage.put_file(key, jfk, "audio/flac")
        row = TranscriptionJobRow(
            filename=f"{name}.flac",
            url=storage.url_for(key),
            status=status,
            model="tiny.en",
            engine="faster-whisper",
            task="transcribe",
            progress=40 if attempts else 0,
            attempts=attempts,
            options={},
            callback_attempts=0,
            heartbeat_at=silent_since if status == JobStatus.PROCESSING else None,
        )
        rows[name] = (await repo.add(row)).id
    await db.close()

    async with running_app(settings) as (_, client):
        running = await wait_for(client, rows["running"], final)
        queued = await wait_for(client, rows["queued"], final)
        exhausted = await wait_for(client, rows["exhausted"], final)
    assert running["status"] == "completed" and running["attempts"] == 2
    assert wer(JFK_TEXT, running["result_text"]) <= 0.1
    assert queued["status"] == "completed" and queued["attempts"] == 1
    assert exhausted["status"] == "failed"
    assert "(3 attempts); giving up" in exhausted["error_message"]


async def test_cancel_running_and_pending_jobs(
    tmp_path: Path, long_speech: Path, jfk: Path
) -> None:
    settings = make_settings(tmp_path, local_concurrency=1)
    async with running_app(settings) as (_, client):
        data = long_speech.read_bytes()
        first = (
            await client.post(
                "/api/v1/job/transcribe", files={"file": ("a.flac", data, "audio/flac")}
            )
        ).json()
        second = (
            await client.post(
                "/api/v1/job/transcribe", files={"file": ("b.flac", data, "audio/flac")}
            )
        ).json()
        await wait_for(
            client, first["id"], lambda j: j["status"] == "processing" and j["progress"] > 0
        )

        pending = await client.delete(f"/api/v1/job/{second['id']}")
        assert pending.status_code == 200 and pending.json()["status"] == "cancelled"
        running = await client.delete(f"/api/v1/job/{first['id']}")
        assert running.status_code == 200 and running.json()["status"] == "cancelled"

        await asyncio.sleep(2)
        for job_id, attempts in ((first["id"], 1), (second["id"], 0)):
            job = (await client.get(f"/api/v1/job/status/{job_id}")).json()
            assert job["status"] == "cancelled" and job["attempts"] == attempts
            assert job["result_text"] is None
        again = await client.delete(f"/api/v1/job/{first['id']}")
        assert again.status_code == 409

        # The executor is free again: a new job runs to completion.
        third = (
            await client.post(
                "/api/v1/job/transcribe", files={"file": ("c.flac", jfk.read_bytes(), "audio/flac")}
            )
        ).json()
        done = await wait_for(client, third["id"], final)
        assert done["status"] == "completed"


def test_killed_server_resumes_job_on_restart(tmp_path: Path, long_speech: Path) -> None:
    """A real process, killed with SIGKILL mid-job: the next start finishes the job.

    It takes the job over once the job's heartbeat is stale, as it would from any gateway.
    """
    port = free_port()
    env = {
        **os.environ,
        "AUDIOTEXT_PORT": str(port),
        "AUDIOTEXT_DATA_DIR": str(tmp_path / "data"),
        "AUDIOTEXT_CPU_THREADS": "2",
        "AUDIOTEXT_HEARTBEAT_SECONDS": "1",
        "AUDIOTEXT_STALE_JOB_SECONDS": "5",
    }
    audiotext = str(Path(sys.executable).parent / "audiotext")
    base = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [audiotext, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            assert process.poll() is None, "server exited"
            import time

            time.sleep(0.1)
        raise AssertionError("server did not start")

    server = start()
    try:
        files = {"file": ("long.flac", long_speech.read_bytes(), "audio/flac")}
        job = httpx.post(f"{base}/api/v1/job/transcribe", files=files, timeout=60).json()
        import time

        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/api/v1/job/status/{job['id']}").json()["progress"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()

    server = start()
    try:
        deadline = time.monotonic() + 180
        while True:
            state = httpx.get(f"{base}/api/v1/job/status/{job['id']}").json()
            if state["status"] in ("completed", "failed", "cancelled"):
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert state["status"] == "completed", state
        assert state["attempts"] == 2
    finally:
        server.send_signal(signal.SIGTERM)
        # uvicorn re-raises SIGTERM after its graceful shutdown.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)


def test_sigterm_drains_and_hands_running_jobs_back(tmp_path: Path, long_speech: Path) -> None:
    """Graceful shutdown: the server stops within seconds and the job waits as pending."""
    import time

    import sqlalchemy as sa

    port = free_port()
    data = tmp_path / "data"
    env = {**os.environ, "AUDIOTEXT_PORT": str(port), "AUDIOTEXT_DATA_DIR": str(data)}
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "audiotext"), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        files = {"file": ("long.flac", long_speech.read_bytes(), "audio/flac")}
        job = httpx.post(f"{base}/api/v1/job/transcribe", files=files, timeout=60).json()
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/api/v1/job/status/{job['id']}").json()["progress"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        stopping = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        assert time.monotonic() - stopping < 25
    finally:
        if server.poll() is None:
            server.kill()
    engine = sa.create_engine(f"sqlite:///{data / 'audiotext.db'}")
    with engine.connect() as conn:
        status, message = conn.execute(
            sa.text("SELECT status, error_message FROM transcription_job WHERE id = :id"),
            {"id": job["id"]},
        ).one()
    engine.dispose()
    assert status == "pending" and "shutdown" in message
