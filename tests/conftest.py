"""Shared fixtures: settings in a temp folder, the real app, a live server, real audio."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from audiotext.config import Settings
from audiotext.engine import Engine, EngineRegistry

from helpers import (
    JFK,
    LINES,
    SPOKEN_TEXT,
    VOICES,
    Conversation,
    free_port,
    live_server,
    make_settings,
    running_app,
    speak,
)

pytest_plugins = [
    p
    for p in ("support.servers", "support.cluster")
    if (Path(__file__).parent / "support" / f"{p.split('.')[1]}.py").exists()
]


@pytest.fixture(scope="session")
def engine() -> Engine:
    """One faster-whisper engine for the tests that transcribe directly (models load once)."""
    return EngineRegistry(Settings(cpu_threads=2)).get()


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
    subprocess.run([_need("espeak-ng"), "-s", "140", "-w", str(wav), SPOKEN_TEXT], check=True)
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
            [
                _need("ffmpeg"),
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(wav),
                "-ar",
                "16000",
                *args,
                str(folder / f"speech.{fmt}"),
            ],
            check=True,
        )
    # Five seconds of digital silence.
    subprocess.run(
        [
            _need("sox"),
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            str(folder / "silence.wav"),
            "trim",
            "0.0",
            "5.0",
        ],
        check=True,
    )
    yield folder


@pytest.fixture(scope="session")
def long_speech(audio_dir: Path) -> Path:
    """About a minute of varied sentences with pauses (LONG_TEXT): long enough to catch a job
    while it runs. Varied, because one sentence said over and over sends the decoder into
    fallbacks that drop words."""
    target = audio_dir / "long-speech.flac"
    if not target.exists():
        parts = []
        for i, line in enumerate(LINES):
            part = audio_dir / f"line{i}.wav"
            speak("en-us", line, part)
            parts.append(str(part))
        sox = [_need("sox"), *parts, "-r", "16000", str(target)]
        subprocess.run([*sox, "pad", "0", "0.4", "repeat", "1"], check=True)
    return target


@pytest.fixture(scope="session")
def very_long_speech(long_speech: Path) -> Path:
    """About seven minutes of speech (7 MB): a job surely still running when it is cancelled.

    The worker can finish the one-minute file within seconds of its pod starting, before a
    cancel request reaches the operator.
    """
    target = long_speech.with_name("very-long-speech.flac")
    if not target.exists():
        sox = shutil.which("sox")
        assert sox, "sox is needed for the long test audio"
        subprocess.run([sox, str(long_speech), str(target), "repeat", "5"], check=True)
    return target


@pytest.fixture(scope="session")
def two_minutes(long_speech: Path) -> Path:
    """About two minutes of varied sentences with pauses (four times over, far apart enough
    that no 30 s window repeats itself, which would send the decoder into fallbacks)."""
    target = long_speech.with_name("two-minutes.flac")
    if not target.exists():
        subprocess.run([_need("sox"), str(long_speech), str(target), "repeat", "1"], check=True)
    return target


def _conversation(folder: Path, spoken: list[tuple[int, str]]) -> Conversation:
    """The (voice, line) turns one after another, as one 16 kHz file."""
    parts, turns, start = [], [], 0.0
    for i, (voice, line) in enumerate(spoken):
        part = folder / f"turn{i}.wav"
        seconds = speak(VOICES[voice], line, part)
        parts.append(str(part))
        turns.append((start, start + seconds, voice))
        start += seconds
    path = folder / "conversation.wav"
    subprocess.run(["sox", *parts, "-r", "16000", str(path)], check=True)
    return Conversation(path, turns)


@pytest.fixture(scope="session")
def conversation(tmp_path_factory: pytest.TempPathFactory) -> Conversation:
    """Three voices taking turns of about 4.5 s, one after another, as one 16 kHz file."""
    spoken = [(i % 3, line) for i, line in enumerate(LINES)]
    return _conversation(tmp_path_factory.mktemp("conversation"), spoken)


@pytest.fixture(scope="session")
def long_conversation(tmp_path_factory: pytest.TempPathFactory) -> Conversation:
    """About 75 s of the three voices, two shards of 30 s: the lines in turn, then backwards
    with the voices shifted, so the second shard's voices come in another order."""
    spoken = [(i % 3, line) for i, line in enumerate(LINES)]
    spoken += [((i + 2) % 3, line) for i, line in enumerate(reversed(LINES))]
    return _conversation(tmp_path_factory.mktemp("long-conversation"), spoken)
