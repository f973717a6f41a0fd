"""Shared fixtures: settings in a temp folder, the real app, a live server, real audio."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from audiotext.api.app import create_app
from audiotext.config import Settings
from audiotext.db.migrate import upgrade

pytest_plugins = [p for p in ("support.servers", "support.cluster") if (Path(__file__).parent / "support" / f"{p.split('.')[1]}.py").exists()]

ROOT = Path(__file__).resolve().parent.parent
JFK = ROOT.parent / "shared" / "audio" / "jfk.flac"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
SPOKEN_TEXT = "The quick brown fox jumps over the lazy dog. Seven boats sailed across the river."
FORMATS = ("mp3", "wav", "flac", "m4a", "mp4", "aac", "ogg", "webm")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
async def live_server(settings: Settings) -> AsyncIterator[str]:
    """The real app served by uvicorn on a loopback port; yields its base URL."""
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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    port = free_port()
    return make_settings(tmp_path, port=port)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings) as (_, c):
        yield c


@pytest.fixture
async def server_url(settings: Settings) -> AsyncIterator[str]:
    async with live_server(settings) as url:
        yield url


@pytest.fixture(scope="session")
def jfk() -> Path:
    assert JFK.is_file(), f"missing test audio {JFK}"
    return JFK


def _need(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is not installed (.ci/run installs it with apt-get)"
    return path


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Speech with a known text, made with espeak-ng and converted into every format."""
    folder = tmp_path_factory.mktemp("audio")
    wav = folder / "speech-source.wav"
    subprocess.run(
        [_need("espeak-ng"), "-s", "140", "-w", str(wav), SPOKEN_TEXT], check=True
    )
    codecs = {
        "mp3": ["-c:a", "libmp3lame"],
        "wav": ["-c:a", "pcm_s16le"],
        "flac": ["-c:a", "flac"],
        "m4a": ["-c:a", "aac"],
        "mp4": ["-c:a", "aac", "-f", "mp4"],
        "aac": ["-c:a", "aac", "-f", "adts"],
        "ogg": ["-c:a", "libvorbis"],
        "webm": ["-c:a", "libopus"],
    }
    for fmt, args in codecs.items():
        subprocess.run(
            [_need("ffmpeg"), "-loglevel", "error", "-y", "-i", str(wav), "-ar", "16000",
             *args, str(folder / f"speech.{fmt}")],
            check=True,
        )
    # Five seconds of digital silence.
    subprocess.run(
        [_need("sox"), "-n", "-r", "16000", "-c", "1", str(folder / "silence.wav"),
         "trim", "0.0", "5.0"],
        check=True,
    )
    yield folder
