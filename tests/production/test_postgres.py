"""PostgreSQL: migrations with a real enum, the app on it, 503 while it is down, recovery."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import psycopg
import pytest

from audiotext.db.migrate import downgrade, upgrade
from audiotext.db.session import Database
from audiotext.services.keys import ApiKeyService

from helpers import JFK_TEXT, final, make_settings, running_app, wait_for
from support.servers import PostgresServer
from wer import wer

pytestmark = pytest.mark.postgres


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_migrations_up_and_down(postgres_database: str) -> None:
    upgrade(postgres_database)
    with psycopg.connect(plain_dsn(postgres_database)) as conn:
        labels = [
            r[0]
            for r in conn.execute(
                "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                "WHERE t.typname = 'job_status' ORDER BY e.enumsortorder"
            )
        ]
        assert labels == ["pending", "processing", "completed", "failed", "cancelled"]
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'transcription_job'"
            )
        }
        seed = {
            "id",
            "filename",
            "url",
            "status",
            "result_text",
            "error_message",
            "processing_time_seconds",
            "description",
            "creation_date",
            "update_date",
        }
        assert seed <= columns
        assert {"model", "language", "task", "progress", "audio_duration_seconds"} <= columns
        kind = conn.execute(
            "SELECT udt_name FROM information_schema.columns "
            "WHERE table_name = 'transcription_job' AND column_name = 'status'"
        ).fetchone()
        assert kind == ("job_status",)
    downgrade(postgres_database)
    with psycopg.connect(plain_dsn(postgres_database)) as conn:
        assert conn.execute("SELECT to_regclass('transcription_job')").fetchone() == (None,)
        assert conn.execute(
            "SELECT count(*) FROM pg_type WHERE typname = 'job_status'"
        ).fetchone() == (0,)
    upgrade(postgres_database)


@pytest.mark.slow
async def test_jobs_on_postgres_and_503_while_it_is_down(
    postgres_server: PostgresServer, postgres_database: str, tmp_path: Path, jfk: Path
) -> None:
    settings = make_settings(tmp_path, database_url=postgres_database, database_pool_timeout=2)
    async with running_app(settings) as (_, client):
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        created = (await client.post("/api/v1/job/transcribe", files=files)).json()
        job = await wait_for(client, created["id"], final)
        assert job["status"] == "completed"
        assert wer(JFK_TEXT, job["result_text"]) <= 0.1

        await asyncio.to_thread(postgres_server.stop)
        try:
            down = await client.get(f"/api/v1/job/status/{job['id']}")
            assert down.status_code == 503
            assert "database unavailable" in down.json()["detail"]
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"].startswith("unavailable")
            assert ready.json()["checks"]["storage"] == "ok"
        finally:
            await asyncio.to_thread(postgres_server.start)
        # Recovery without a restart of the gateway.
        for _ in range(50):
            again = await client.get(f"/api/v1/job/status/{job['id']}")
            if again.status_code == 200:
                break
            await asyncio.sleep(0.2)
        assert again.status_code == 200 and again.json()["status"] == "completed"
        assert (await client.get("/readyz")).status_code == 200


async def test_auth_with_the_database_down_is_503_in_each_shape(
    postgres_server: PostgresServer, postgres_database: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, database_url=postgres_database, database_pool_timeout=2, auth=True
    )
    async with running_app(settings) as (_, client):
        db = Database(settings.resolved_database_url)
        try:
            _, secret = await ApiKeyService(db).create("while-down")
        finally:
            await db.close()
        await asyncio.to_thread(postgres_server.stop)
        try:
            # The key was never seen, so checking it needs the database.
            headers = {"Authorization": f"Bearer {secret}"}
            openai = await client.post("/v1/audio/transcriptions", headers=headers)
            assert openai.status_code == 503
            error = openai.json()["error"]
            assert error["type"] == "service_unavailable"
            assert error["code"] == "backend_unavailable"
            plain = await client.get("/api/v1/job/read", headers=headers)
            assert plain.status_code == 503
            assert plain.json()["code"] == "backend_unavailable"
        finally:
            await asyncio.to_thread(postgres_server.start)


@pytest.mark.slow
async def test_database_outage_while_jobs_wait_does_not_stop_the_runner(
    postgres_server: PostgresServer,
    postgres_database: str,
    tmp_path: Path,
    jfk: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One runner, a queued job that meets the outage when it is claimed: all still finish."""
    settings = make_settings(
        tmp_path, database_url=postgres_database, database_pool_timeout=2, local_concurrency=1
    )
    caplog.set_level(logging.WARNING, logger="audiotext.executor.local")
    async with running_app(settings) as (_, client):
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        ids = [
            (await client.post("/api/v1/job/transcribe", files=files)).json()["id"] for _ in "ab"
        ]
        await wait_for(client, ids[0], lambda j: j["status"] == "processing")

        await asyncio.to_thread(postgres_server.stop)
        try:
            for _ in range(300):
                if any(f"job {ids[1]} could not run" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the queued job was never tried during the outage")
            ready = (await client.get("/readyz")).json()
            assert ready["checks"]["executor"] == "ok", ready
        finally:
            await asyncio.to_thread(postgres_server.start)

        for job_id in ids:
            job = await wait_for(client, job_id, final)
            assert job["status"] == "completed", job
        later = (await client.post("/api/v1/job/transcribe", files=files)).json()
        assert (await wait_for(client, later["id"], final))["status"] == "completed"


@pytest.mark.slow
async def test_a_second_gateway_leaves_a_running_job_to_the_first(
    postgres_database: str, tmp_path: Path, very_long_speech: Path
) -> None:
    """Gateways on one database: a start-up takes over only jobs whose heartbeat is stale."""
    settings = make_settings(
        tmp_path, database_url=postgres_database, heartbeat_seconds=1, batched_from_seconds=0
    )  # sequential, the slower pipeline: the job is surely running when the second one is up
    async with running_app(settings) as (_, first):
        files = {"file": ("long.flac", very_long_speech.read_bytes(), "audio/flac")}
        created = (await first.post("/api/v1/job/transcribe", files=files)).json()
        await wait_for(first, created["id"], lambda j: j["progress"] > 0)
        async with running_app(settings) as (_, second):
            await asyncio.sleep(2)
            job = (await second.get(f"/api/v1/job/status/{created['id']}")).json()
            assert job["status"] == "processing" and job["attempts"] == 1, job
        job = await wait_for(first, created["id"], final, timeout=180)
    assert job["status"] == "completed" and job["attempts"] == 1, job
    assert job["error_message"] is None
