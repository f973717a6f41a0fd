"""Engines behind one interface: faster-whisper, and openai-whisper where its extra is."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from audiotext import audio
from audiotext.config import Settings
from audiotext.engine import EngineRegistry, TranscribeOptions
from audiotext.engine.faster_whisper import bundled_model_path, resolve_model
from audiotext.engine.models import ModelManager
from audiotext.jobs.errors import InvalidParameter
from audiotext.pipeline import transcribe_audio

from helpers import JFK_TEXT
from wer import wer


def test_tiny_en_is_bundled_and_needs_no_download() -> None:
    path = bundled_model_path("tiny.en")
    assert path is not None and (path / "model.bin").is_file()
    assert resolve_model("tiny.en") == str(path)
    assert resolve_model("large-v3") == "large-v3"  # other names go to faster-whisper


def test_unknown_engine_is_rejected() -> None:
    with pytest.raises(InvalidParameter):
        EngineRegistry(Settings()).get("espresso")


@pytest.mark.slow
def test_model_loaded_once_and_reused_with_progress(jfk: Path) -> None:
    engines = EngineRegistry(Settings(cpu_threads=2))
    engine = engines.get()
    assert engines.get("faster-whisper") is engine
    samples = audio.decode(jfk)
    seen: list[int] = []
    options = TranscribeOptions(model="tiny.en", language="en")
    first = transcribe_audio(engine, samples, options, lambda p, _s: seen.append(p))
    manager: ModelManager = engine.models  # type: ignore[attr-defined]
    with manager.use("tiny.en", lambda _: None) as model:
        assert model is not None  # the loaded one: no second load
    second = transcribe_audio(engine, samples, options)
    with manager.use("tiny.en", lambda _: None) as again:
        assert again is model
    assert wer(JFK_TEXT, first.text) <= 0.1 and first.text == second.text
    assert seen == sorted(seen) and seen[-1] >= 90
    assert first.segments[0].words, "word timestamps are on"


@pytest.mark.slow
def test_model_by_path(jfk: Path) -> None:
    path = bundled_model_path("tiny.en")
    assert path is not None
    engine = EngineRegistry(Settings(cpu_threads=2)).get()
    result = transcribe_audio(engine, audio.decode(jfk), TranscribeOptions(model=str(path)))
    assert wer(JFK_TEXT, result.text) <= 0.1


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("whisper") is None,
    reason="openai-whisper is an optional extra: pip install 'audiotext[openai-whisper]'",
)
def test_openai_whisper_engine(jfk: Path) -> None:  # pragma: no cover - needs the extra
    engine = EngineRegistry(Settings()).get("openai-whisper")
    result = transcribe_audio(engine, audio.decode(jfk), TranscribeOptions(model="tiny.en"))
    assert wer(JFK_TEXT, result.text) <= 0.15
