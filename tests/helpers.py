"""Helpers shared by the tests: real audio, settings in a temp folder, the app in-process."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from audiotext import audio
from audiotext.api.app import create_app
from audiotext.api.realtime_app import create_realtime_app
from audiotext.config import Settings
from audiotext.db.migrate import upgrade
from audiotext.db.session import Database
from audiotext.engine import Engine, TranscribeOptions, Transcript
from audiotext.pipeline import transcribe_audio
from audiotext.services.keys import ApiKeyService

# support.servers is a pytest plugin too (tests/conftest.py loads it), but conftest imports this
# module first: marked here, it is still imported with pytest's assertion rewriting.
pytest.register_assert_rewrite("support.servers")

from support.servers import free_port as free_port  # noqa: E402  (re-exported here)

ROOT = Path(__file__).resolve().parent.parent
JFK = ROOT.parent / "shared" / "audio" / "jfk.flac"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
SPOKEN_TEXT = "We need to finish the report before the meeting on Monday morning."
FORMATS = ("mp3", "wav", "flac", "m4a", "mp4", "aac", "ogg", "webm")


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp / "data", "cpu_threads": 2}
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The real app with its lifespan, driven in-process through ASGI."""
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://audiotext.test", timeout=60
        ) as client:
            yield app, client


@asynccontextmanager
async def live_server(settings: Settings, *, realtime_only: bool = False) -> AsyncIterator[str]:
    """The real app (or with ``realtime_only`` the live-transcription server alone, as
    ``audiotext realtime`` runs it) served by uvicorn on a loopback port; yields its base URL."""
    if realtime_only:
        app = create_realtime_app(settings)
    else:
        await asyncio.to_thread(upgrade, settings.resolved_database_url)
        app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        await task


def transcribed(engine: Engine, path: Path, **options: Any) -> Transcript:
    """``path`` transcribed as a job is (the invented-text checks included); tiny.en unless
    ``options`` says otherwise."""
    return transcribe_audio(
        engine, audio.decode(path), TranscribeOptions(**{"model": "tiny.en", **options})
    )


async def new_key(settings: Settings, name: str, queue: str | None = None) -> tuple[str, str]:
    """An API key made as ``audiotext keys create`` makes one: (its id, its secret)."""
    db = Database(settings.resolved_database_url)
    try:
        key, secret = await ApiKeyService(db).create(name, queue=queue)
    finally:
        await db.close()
    return key.id, secret


async def presign(
    client: httpx.AsyncClient, filename: str, content_type: str, data: bytes
) -> dict[str, Any]:
    """Ask for a presigned upload of ``data`` the way a client does; the JSON answer."""
    response = await client.post(
        "/api/v1/audio/presigned-url",
        json={"filename": filename, "content_type": content_type, "size": len(data)},
    )
    return dict(response.json())


async def wait_for(
    client: httpx.AsyncClient, job_id: str, predicate: Any, timeout: float = 120
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = (await client.get(f"/api/v1/job/status/{job_id}")).json()
        if predicate(job):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting: {job}"
        await asyncio.sleep(0.1)


def final(job: dict[str, Any]) -> bool:
    return job["status"] in ("completed", "failed", "cancelled")


@asynccontextmanager
async def webhook_receiver(fail_first: int = 0) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP endpoint on loopback that refuses the first ``fail_first`` deliveries."""
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append({"headers": dict(request.headers), "body": await request.body()})
        return Response(status_code=503 if len(received) <= fail_first else 204)

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        server.should_exit = True
        await task


# --- a conversation of clearly different voices (espeak-ng), for diarization ----------
VOICES = ("en-us", "en+f4", "en-us+m7")
LINES = (
    "Good morning everyone, thank you for joining the weekly planning call today.",
    "Thanks, I have an update on the billing project and a question about the budget.",
    "Before that, let me say the release went out on Tuesday without any problems.",
    "That is great news, the customers have been waiting for that fix for a while.",
    "Let us talk about the budget then, what exactly did you want to know?",
    "I would like to know whether we can hire two more engineers this quarter.",
    "We have room for one, and maybe a second one after the review in March.",
    "All right, I will prepare the job description and send it around tomorrow.",
)


@dataclass(frozen=True)
class Conversation:
    path: Path
    turns: list[tuple[float, float, int]]  # start, end, voice


# What long_speech says: the lines twice over.
LONG_TEXT = " ".join(LINES * 2)


def speak(voice: str, text: str, path: Path) -> float:
    subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(path), text], check=True)
    seconds = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True)
    return float(seconds.stdout)
