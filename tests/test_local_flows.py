"""The whole product in local mode, as a user drives it: real model, real audio."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from openai import AsyncOpenAI

from audiotext.api.routes.ws import POLL_SECONDS

from helpers import FORMATS, JFK_TEXT, LONG_TEXT, SPOKEN_TEXT, presign
from wer import wer

pytestmark = pytest.mark.slow


async def wait_final(
    client: httpx.AsyncClient, job_id: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = (await client.get(f"/api/v1/job/status/{job_id}")).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job stuck: {job}"
        await asyncio.sleep(0.1)


async def test_presigned_flow_with_websocket_and_every_transcript_format(
    server_url: str, jfk: Path
) -> None:
    data = jfk.read_bytes()
    ws_url = server_url.replace("http://", "ws://")
    async with httpx.AsyncClient(base_url=server_url, timeout=60) as client:
        signed = await presign(client, "jfk.flac", "audio/flac", data)
        put = await client.request(
            signed["method"], signed["upload_url"], content=data, headers=signed["headers"]
        )
        assert put.status_code == 200, put.text
        created = await client.post(
            "/api/v1/job/transcribe",
            json={"filename": "jfk.flac", "url": signed["url"], "description": "inaugural"},
        )
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["status"] in ("pending", "processing")
        assert job["description"] == "inaugural" and job["model"] == "tiny.en"

        messages: list[dict[str, Any]] = []
        async with websockets.connect(f"{ws_url}/api/v1/job/ws/{job['id']}") as socket:
            async for raw in socket:
                messages.append(json.loads(raw))
            assert socket.close_code == 1000
        statuses = [m["status"] for m in messages]
        assert statuses[-1] == "completed", statuses
        assert messages[-1]["progress"] == 100
        assert wer(JFK_TEXT, messages[-1]["result_text"]) <= 0.1
        progress = [m["progress"] for m in messages]
        assert progress == sorted(progress), progress

        final = (await client.get(f"/api/v1/job/status/{job['id']}")).json()
        assert final["status"] == "completed" and final["language"] == "en"
        assert final["attempts"] == 1 and final["processing_time_seconds"] > 0
        assert abs(final["audio_duration_seconds"] - 11.0) < 0.5

        txt = await client.get(f"/api/v1/job/{job['id']}/transcript?format=txt")
        assert txt.headers["content-type"].startswith("text/plain")
        assert wer(JFK_TEXT, txt.text) <= 0.1
        body = (await client.get(f"/api/v1/job/{job['id']}/transcript?format=json")).json()
        assert body["language"] == "en" and body["segments"][0]["words"]
        srt = (await client.get(f"/api/v1/job/{job['id']}/transcript?format=srt")).text
        assert srt.startswith("1\n00:00:00,") and " --> " in srt
        vtt = (await client.get(f"/api/v1/job/{job['id']}/transcript?format=vtt")).text
        assert vtt.startswith("WEBVTT\n\n")
        bad = await client.get(f"/api/v1/job/{job['id']}/transcript?format=doc")
        assert bad.status_code == 422

        # A late WebSocket client gets the final state at once, then a normal close.
        async with websockets.connect(f"{ws_url}/api/v1/job/ws/{job['id']}") as socket:
            late = [json.loads(m) async for m in socket]
            assert [m["status"] for m in late] == ["completed"]
            assert socket.close_code == 1000
        # Finished jobs cannot be cancelled.
        conflict = await client.delete(f"/api/v1/job/{job['id']}")
        assert conflict.status_code == 409


async def test_websocket_streams_progress_while_the_job_runs(
    server_url: str, long_speech: Path
) -> None:
    ws_url = server_url.replace("http://", "ws://")
    async with httpx.AsyncClient(base_url=server_url, timeout=60) as client:
        files = {"file": ("long.flac", long_speech.read_bytes(), "audio/flac")}
        created = await client.post("/api/v1/job/transcribe", files=files)
        assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    loop = asyncio.get_running_loop()
    messages: list[tuple[float, dict[str, Any]]] = []
    async with websockets.connect(f"{ws_url}/api/v1/job/ws/{job_id}") as socket:
        async for raw in socket:
            messages.append((loop.time(), json.loads(raw)))
        assert socket.close_code == 1000
    last = messages[-1][1]
    assert last["status"] == "completed" and last["progress"] == 100, last
    running = [
        (at, m["progress"])
        for at, m in messages[:-1]
        if m["status"] == "processing" and 0 < m["progress"] < 100
    ]
    assert len(running) >= 2, [(m["status"], m["progress"]) for _, m in messages]
    # The text comes live too, a segment per message, in a field the seed's clients ignore.
    live = [m["segment"] for _, m in messages if "segment" in m]
    assert len(live) >= 3 and all(
        m["status"] == "processing" for _, m in messages if "segment" in m
    )
    assert [s["id"] for s in live] == list(range(len(live)))
    assert wer(LONG_TEXT, " ".join(s["text"].strip() for s in live)) <= 0.25
    assert [p for _, p in running] == sorted(p for _, p in running)
    # The fallback poll sends at most one message per POLL_SECONDS: updates closer together
    # than that came through the event bus as the job moved.
    gaps = [b - a for (a, _), (b, _) in pairwise(running)]
    assert sum(gap < POLL_SECONDS for gap in gaps) > len(gaps) / 2, gaps


async def test_websocket_for_unknown_job_is_404(server_url: str) -> None:
    ws_url = server_url.replace("http://", "ws://")
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(f"{ws_url}/api/v1/job/ws/nope") as socket:
            await socket.recv()
    assert refused.value.response.status_code == 404
    assert refused.value.response.headers["content-type"] == "application/json"
    assert json.loads(refused.value.response.body) == {
        "detail": "job nope not found",
        "code": "job_not_found",
    }


async def test_multipart_flow_and_listing(client: httpx.AsyncClient, jfk: Path) -> None:
    ids = []
    for n in range(3):
        files = {"file": (f"jfk-{n}.flac", jfk.read_bytes(), "audio/flac")}
        created = await client.post("/api/v1/job/transcribe", files=files, data={"language": "en"})
        assert created.status_code == 202, created.text
        ids.append(created.json()["id"])
    for job_id in ids:
        job = await wait_final(client, job_id)
        assert job["status"] == "completed", job
        assert wer(JFK_TEXT, job["result_text"]) <= 0.1
    listing = (await client.get("/api/v1/job/read?limit=2")).json()
    assert listing["total"] == 3 and listing["limit"] == 2
    assert [j["id"] for j in listing["items"]] == [ids[2], ids[1]]
    page2 = (await client.get("/api/v1/job/read?limit=2&offset=2")).json()
    assert [j["id"] for j in page2["items"]] == [ids[0]]
    done = (await client.get("/api/v1/job/read?status=completed")).json()
    assert done["total"] == 3
    none = (await client.get("/api/v1/job/read?status=failed")).json()
    assert none == {"items": [], "total": 0, "limit": 20, "offset": 0}


async def test_openai_sdk(server_url: str, jfk: Path) -> None:
    sdk = AsyncOpenAI(base_url=f"{server_url}/v1", api_key="not-needed-locally", timeout=120)
    with jfk.open("rb") as f:
        result = await sdk.audio.transcriptions.create(model="whisper-1", file=f)
    assert wer(JFK_TEXT, result.text) <= 0.1

    with jfk.open("rb") as f:
        verbose = await sdk.audio.transcriptions.create(
            model="whisper-1",
            file=f,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            language="en",
        )
    assert verbose.language == "english" and abs(verbose.duration - 11.0) < 0.5
    assert verbose.words and verbose.words[0].word.lower().startswith("and")
    assert verbose.segments and verbose.segments[-1].end > 9

    for fmt, check in (
        ("text", lambda t: wer(JFK_TEXT, t) <= 0.1),
        ("srt", lambda t: " --> " in t and t.startswith("1\n")),
        ("vtt", lambda t: t.startswith("WEBVTT")),
    ):
        with jfk.open("rb") as f:
            body = await sdk.audio.transcriptions.create(
                model="whisper-1",
                file=f,
                response_format=fmt,  # type: ignore[call-overload]
            )
        assert check(str(body)), (fmt, body)

    with jfk.open("rb") as f:
        translated = await sdk.audio.translations.create(model="whisper-1", file=f)
    assert "country" in translated.text.lower()


async def test_openai_sdk_error_is_a_typed_exception(server_url: str) -> None:
    import openai

    sdk = AsyncOpenAI(base_url=f"{server_url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", b"RIFF"), temperature=3
        )
    assert "temperature" in str(caught.value)
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "temperature"


def test_cli_transcribe(jfk: Path, tmp_path: Path) -> None:
    audiotext = Path(sys.executable).parent / "audiotext"
    text = subprocess.run(
        [str(audiotext), "transcribe", str(jfk)], capture_output=True, text=True, check=True
    ).stdout
    assert wer(JFK_TEXT, text) <= 0.1
    srt = subprocess.run(
        [str(audiotext), "transcribe", str(jfk), "--format", "srt"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert srt.startswith("1\n00:00:00,000 --> ")
    bad = tmp_path / "notes.mp3"
    bad.write_text("hello")
    failed = subprocess.run(
        [str(audiotext), "transcribe", str(bad)], capture_output=True, text=True
    )
    assert failed.returncode == 2 and "not audio" in failed.stderr


@pytest.mark.parametrize("fmt", FORMATS)
async def test_every_supported_format(client: httpx.AsyncClient, audio_dir: Path, fmt: str) -> None:
    path = audio_dir / f"speech.{fmt}"
    files = {"file": (path.name, path.read_bytes(), "application/octet-stream")}
    created = await client.post("/api/v1/job/transcribe", files=files)
    assert created.status_code == 202, created.text
    job = await wait_final(client, created.json()["id"])
    assert job["status"] == "completed", job
    assert wer(SPOKEN_TEXT, job["result_text"]) <= 0.2, job["result_text"]


async def test_silence_gives_empty_text(client: httpx.AsyncClient, audio_dir: Path) -> None:
    path = audio_dir / "silence.wav"
    created = await client.post(
        "/api/v1/job/transcribe", files={"file": (path.name, path.read_bytes(), "audio/wav")}
    )
    job = await wait_final(client, created.json()["id"])
    assert job["status"] == "completed"
    assert job["result_text"] == ""
