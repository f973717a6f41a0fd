"""API keys, tenant isolation, limits and headers, against the real app and server."""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import websockets
from openai import AsyncOpenAI

from audiotext.api.app import create_app
from audiotext.config import Settings
from audiotext.db.session import Database
from audiotext.kube.resources import build_transcription_job
from audiotext.services.keys import ApiKeyService

from helpers import final, free_port, live_server, make_settings, new_key, running_app, wait_for


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def auth_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, auth=True, port=free_port())


async def test_keys_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    audiotext = str(Path(sys.executable).parent / "audiotext")
    env = {"AUDIOTEXT_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    created = subprocess.run(
        [audiotext, "keys", "create", "--name", "ci"], env=env, capture_output=True, text=True
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("at_") and "\n" not in secret
    listed = subprocess.run(
        [audiotext, "keys", "list"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "ci" in listed and "active" in listed and secret not in listed
    queued = subprocess.run(
        [audiotext, "keys", "create", "--name", "team-a", "--queue", "team-a"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert queued.returncode == 0 and "queue team-a" in queued.stderr, queued.stderr
    listed = subprocess.run(
        [audiotext, "keys", "list"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert any("team-a" in line.split()[4:] for line in listed.splitlines()), listed
    bad = [audiotext, "keys", "create", "--name", "x", "--queue", "Team A"]
    refused = subprocess.run(bad, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "LocalQueue" in refused.stderr
    settings = make_settings(tmp_path, auth=True)
    async with running_app(settings) as (_, client):
        assert (await client.get("/api/v1/job/read", headers=bearer(secret))).status_code == 200
        subprocess.run([audiotext, "keys", "revoke", "ci"], env=env, check=True)
        await asyncio.sleep(5.1)  # verified keys are cached for a few seconds
        revoked = await client.get("/api/v1/job/read", headers=bearer(secret))
        assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    db = Database(settings.resolved_database_url)
    rows = await ApiKeyService(db).list()
    await db.close()
    assert rows[0].secret_hash != secret and secret not in rows[0].secret_hash


async def test_a_tenants_key_sends_its_jobs_to_its_queue(
    auth_settings: Settings, jfk: Path
) -> None:
    audio = jfk.read_bytes()
    async with running_app(auth_settings) as (app, client):
        _, tenant = await new_key(auth_settings, "team-a", queue="team-a")
        _, plain = await new_key(auth_settings, "anyone")

        async def spec_of(secret: str, **fields: str) -> dict[str, Any]:
            files = {"file": ("jfk.flac", audio, "audio/flac")}
            created = await client.post(
                "/api/v1/job/transcribe", files=files, data=fields, headers=bearer(secret)
            )
            assert created.status_code == 202, created.text
            stored = await app.state.services.jobs.get(created.json()["id"])
            resource: dict[str, Any] = build_transcription_job(stored, auth_settings)
            return resource["spec"]

        spec = await spec_of(tenant, priority="batch")
        assert (spec["queueName"], spec["priority"]) == ("team-a", "batch")
        assert "queueName" not in await spec_of(plain)
        wrong = await client.post(
            "/api/v1/job/transcribe",
            headers=bearer(tenant),
            json={"filename": "a.flac", "url": "s3://b/a.flac", "priority": "urgent"},
        )
        assert wrong.status_code == 422 and "priority" in wrong.json()["detail"]
        # The OpenAI endpoint runs the tenant's jobs in its queue too.
        api = AsyncOpenAI(
            api_key=tenant, base_url="http://audiotext.test/v1", http_client=client, max_retries=0
        )
        await api.audio.transcriptions.create(model="whisper-1", file=("jfk.flac", audio))
        listed = (await client.get("/api/v1/job/read", headers=bearer(tenant))).json()["items"]
        newest = await app.state.services.jobs.get(listed[0]["id"])
        assert newest.options["queue"] == "team-a" and newest.options["source"] == "openai"


async def test_every_route_needs_a_key_but_health_and_docs(auth_settings: Settings) -> None:
    async with running_app(auth_settings) as (_, client):
        for path in ("/api/v1", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path
        for method, path in (
            ("GET", "/api/v1/job/read"),
            ("GET", "/api/v1/job/status/x"),
            ("DELETE", "/api/v1/job/x"),
            ("GET", "/api/v1/job/x/transcript"),
            ("POST", "/api/v1/job/transcribe"),
            ("POST", "/api/v1/audio/presigned-url"),
        ):
            for headers in (
                {},
                bearer("at_nope_nope"),
                bearer("garbage"),
                {"Authorization": "Basic x"},
            ):
                response = await client.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert response.json()["code"] == "invalid_api_key"
        openai_style = await client.post("/v1/audio/transcriptions")
        assert openai_style.status_code == 401
        assert openai_style.json()["error"]["type"] == "authentication_error"


@pytest.mark.slow
async def test_openai_sdk_api_key_and_websocket_auth(auth_settings: Settings, jfk: Path) -> None:
    async with live_server(auth_settings) as url:
        _, secret = await new_key(auth_settings, "sdk")
        sdk = AsyncOpenAI(base_url=f"{url}/v1", api_key=secret)
        with jfk.open("rb") as f:
            result = await sdk.audio.transcriptions.create(model="whisper-1", file=f)
        assert "country" in result.text
        wrong = AsyncOpenAI(base_url=f"{url}/v1", api_key="at_bad_key", max_retries=0)
        with pytest.raises(openai.AuthenticationError), jfk.open("rb") as f:
            await wrong.audio.transcriptions.create(model="whisper-1", file=f)

        async with httpx.AsyncClient(base_url=url, headers=bearer(secret)) as client:
            job = (await client.get("/api/v1/job/read")).json()["items"][0]
        ws = url.replace("http", "ws") + f"/api/v1/job/ws/{job['id']}"
        async with websockets.connect(ws, additional_headers=bearer(secret)) as socket:
            assert [m async for m in socket]
        async with websockets.connect(f"{ws}?token={secret}") as socket:
            assert [m async for m in socket]
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            async with websockets.connect(ws):
                pass
        assert refused.value.response.status_code == 401


@pytest.mark.slow
async def test_tenants_cannot_stream_each_others_jobs(auth_settings: Settings, jfk: Path) -> None:
    async with live_server(auth_settings) as url:
        _, alice = await new_key(auth_settings, "alice")
        _, bob = await new_key(auth_settings, "bob")
        async with httpx.AsyncClient(base_url=url, headers=bearer(alice), timeout=60) as client:
            files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
            job = (await client.post("/api/v1/job/transcribe", files=files)).json()
        ws = url.replace("http", "ws") + f"/api/v1/job/ws/{job['id']}"
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            async with websockets.connect(ws, additional_headers=bearer(bob)):
                pass
        # The same answer as for a job that does not exist: nothing tells bob it does.
        assert refused.value.response.status_code == 404
        assert json.loads(refused.value.response.body) == {
            "detail": f"job {job['id']} not found",
            "code": "job_not_found",
        }
        async with websockets.connect(ws, additional_headers=bearer(alice)) as socket:
            messages = [json.loads(m) async for m in socket]
        assert messages[-1]["status"] == "completed"


@pytest.mark.slow
async def test_tenants_see_only_their_own_jobs(auth_settings: Settings, jfk: Path) -> None:
    async with running_app(auth_settings) as (_, client):
        alice_id, alice = await new_key(auth_settings, "alice")
        _, bob = await new_key(auth_settings, "bob")
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        job = (
            await client.post("/api/v1/job/transcribe", files=files, headers=bearer(alice))
        ).json()
        client.headers.update(bearer(alice))
        await wait_for(client, job["id"], final)
        client.headers.pop("Authorization")

        assert (
            await client.get(f"/api/v1/job/status/{job['id']}", headers=bearer(bob))
        ).status_code == 404
        assert (
            await client.delete(f"/api/v1/job/{job['id']}", headers=bearer(bob))
        ).status_code == 404
        transcript = await client.get(f"/api/v1/job/{job['id']}/transcript", headers=bearer(bob))
        assert transcript.status_code == 404
        assert (await client.get("/api/v1/job/read", headers=bearer(bob))).json()["total"] == 0
        assert (await client.get("/api/v1/job/read", headers=bearer(alice))).json()["total"] == 1

        signed = (
            await client.post(
                "/api/v1/audio/presigned-url",
                headers=bearer(alice),
                json={"filename": "../../x.flac", "content_type": "audio/flac", "size": 10},
            )
        ).json()
        assert f"/uploads/{alice_id}/" in signed["url"] and ".." not in signed["url"]
        stolen = await client.post(
            "/api/v1/job/transcribe",
            headers=bearer(bob),
            json={"filename": "x.flac", "url": signed["url"]},
        )
        assert stolen.status_code == 404


async def test_rate_limit_gives_429_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, auth=True, rate_limit_per_minute=3)
    async with running_app(settings) as (_, client):
        _, secret = await new_key(settings, "busy")
        codes = [
            (await client.get("/api/v1/job/read", headers=bearer(secret))).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        limited = await client.get("/api/v1/job/read", headers=bearer(secret))
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["code"] == "rate_limited"
        # OpenAI clients read the error's type: a rate limit is rate_limit_error there.
        openai_limited = await client.post("/v1/audio/transcriptions", headers=bearer(secret))
        assert openai_limited.status_code == 429
        assert openai_limited.json()["error"]["type"] == "rate_limit_error"
        # Another key has its own budget.
        _, other = await new_key(settings, "calm")
        assert (await client.get("/api/v1/job/read", headers=bearer(other))).status_code == 200


@pytest.mark.slow
async def test_concurrent_job_quota(tmp_path: Path, long_speech: Path, jfk: Path) -> None:
    settings = make_settings(tmp_path, auth=True, max_active_jobs_per_key=1)
    async with running_app(settings) as (_, client):
        _, secret = await new_key(settings, "quota")
        client.headers.update(bearer(secret))
        files = {"file": ("long.flac", long_speech.read_bytes(), "audio/flac")}
        first = await client.post("/api/v1/job/transcribe", files=files)
        assert first.status_code == 202
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        second = await client.post("/api/v1/job/transcribe", files=files)
        assert second.status_code == 429 and second.headers["retry-after"] == "5"
        assert (await client.get("/api/v1/job/read")).json()["total"] == 1
        await client.delete(f"/api/v1/job/{first.json()['id']}")
        third = await client.post("/api/v1/job/transcribe", files=files)
        assert third.status_code == 202


async def test_job_quota_holds_for_requests_racing_in_together(tmp_path: Path, jfk: Path) -> None:
    settings = make_settings(tmp_path, auth=True, max_active_jobs_per_key=2)
    async with running_app(settings) as (_, client):
        _, secret = await new_key(settings, "burst")
        client.headers.update(bearer(secret))
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        responses = await asyncio.gather(
            *(client.post("/api/v1/job/transcribe", files=files) for _ in range(8))
        )
        codes = sorted(r.status_code for r in responses)
        accepted = codes.count(202)
        assert 1 <= accepted <= 2 and codes.count(429) == 8 - accepted, codes
        # The refused requests left no row behind.
        assert (await client.get("/api/v1/job/read")).json()["total"] == accepted


async def test_security_headers_and_cors(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, cors_origins=["https://app.example"])
    async with running_app(settings) as (_, client):
        response = await client.get("/api/v1")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        preflight = await client.options(
            "/api/v1/job/read",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        other = await client.get("/api/v1", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    wildcard = make_settings(tmp_path / "w", cors_origins=["*"])
    async with running_app(wildcard) as (_, client):
        response = await client.get("/api/v1", headers={"Origin": "https://any.example"})
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers


async def test_slow_requests_are_cut_off_with_504(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, request_timeout_seconds=0.000001)
    async with running_app(settings) as (_, client):
        response = await client.get("/api/v1/job/read")
        assert response.status_code == 504
        assert response.json() == {"detail": "the request took too long", "code": "request_timeout"}
    spec = create_app(settings).openapi()
    documented = spec["paths"]["/api/v1/job/read"]["get"]["responses"]
    assert documented["504"]["description"] == "The request took too long"


def wav_header(data_bytes: int, claimed: int) -> bytes:
    """A PCM WAV whose header claims ``claimed`` bytes of samples."""
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + claimed)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", claimed)
        + b"\x01\x00" * (data_bytes // 2)
    )


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("zero.wav", b"", 400),
        ("huge-duration.wav", wav_header(32000, 0xFFFFFF00), 400),
        ("magic.mp3", b"GIF89a" + b"\0" * 2000, 415),
        ("text.flac", b"fLaC but then nonsense " * 50, 400),
        ("bomb.wav", b"PK\x03\x04" + b"\0" * 4000, 415),
        ("gzip.ogg", b"\x1f\x8b\x08\x00" + b"\0" * 4000, 415),
        ("riff-only.wav", b"RIFF\x00\x00\x00\x00WAVE", 400),
    ],
)
async def test_hostile_audio_gets_a_clear_4xx(
    client: httpx.AsyncClient, name: str, content: bytes, status: int
) -> None:
    response = await client.post(
        "/api/v1/job/transcribe", files={"file": (name, content, "audio/wav")}
    )
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert (await client.get("/api/v1/job/read")).json()["total"] == 0
