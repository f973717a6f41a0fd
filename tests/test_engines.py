"""Engines behind one interface: faster-whisper, and openai-whisper where its extra is."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from audiotext import audio
from audiotext.config import Settings
from audiotext.engine import EngineRegistry, Segment, TranscribeOptions, Word
from audiotext.engine.base import SAMPLE_RATE
from audiotext.engine.bundled import bundled_model_path
from audiotext.engine.faster_whisper import (
    CPU_BATCH_SIZE,
    EARLY_TEXT_SECONDS,
    early_cut,
    resolve_model,
    shifted,
)
from audiotext.engine.models import ModelManager
from audiotext.jobs.errors import InvalidParameter
from audiotext.pipeline import transcribe_audio

from helpers import JFK_TEXT, LONG_TEXT
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


@pytest.mark.slow  # the recording is made with espeak-ng and sox
def test_early_text_cuts_in_a_pause_and_shifts_the_rest(long_speech: Path) -> None:
    samples = audio.decode(long_speech)
    cut = early_cut(samples)
    assert cut is not None
    low, high = EARLY_TEXT_SECONDS
    assert low <= cut / SAMPLE_RATE <= high
    # In a pause: quieter there than in the speech around it.
    around = samples[cut - 800 : cut + 800]
    assert float(np.abs(around).mean()) < 0.25 * float(np.abs(samples).mean())
    assert early_cut(samples[: int(2 * high * SAMPLE_RATE) - 1]) is None  # too short to bother
    word = Word(start=1.0, end=1.5, word=" so", probability=0.9)
    moved = shifted(Segment(id=0, start=1.0, end=2.0, text=" so", words=[word]), 9.5, 3)
    assert (moved.id, moved.start, moved.end) == (3, 10.5, 11.5)
    assert (moved.words[0].start, moved.words[0].end) == (10.5, 11.0)


@pytest.mark.slow
def test_early_text_gives_the_same_transcript_sooner(long_speech: Path) -> None:
    engine = EngineRegistry(Settings(cpu_threads=2)).get()
    samples = audio.decode(long_speech)
    runs = {}
    for early in (False, True):
        options = TranscribeOptions(model="tiny.en", early_text=early)
        runs[early] = transcribe_audio(engine, samples, options)
    plain, early = runs[False], runs[True]
    truth = LONG_TEXT
    assert wer(truth, early.text) <= wer(truth, plain.text) + 0.02, (plain.text, early.text)
    assert early.segments[0].end <= EARLY_TEXT_SECONDS[1] < plain.segments[-1].end
    assert [s.id for s in early.segments] == list(range(len(early.segments)))
    starts = [w.start for s in early.segments for w in s.words]
    assert starts == sorted(starts) and starts[-1] > 50  # the rest is placed after the cut


def test_long_audio_on_cpu_is_batched_and_loses_no_speech(long_speech: Path) -> None:
    """faster-whisper's batched pipeline is reported to drop segments: every stretch of
    speech still has its words, and the text is as good as the sequential pipeline's."""
    from audiotext.engine.vad import speech_regions

    samples = audio.decode(long_speech)
    runs = {}
    for batched_from in (0.0, 30.0):
        engine = EngineRegistry(Settings(cpu_threads=2, batched_from_seconds=batched_from)).get()
        options = TranscribeOptions(model="tiny.en")
        runs[batched_from] = transcribe_audio(engine, samples, options)
        assert engine.batch_size(samples, options) == (CPU_BATCH_SIZE if batched_from else 0)  # type: ignore[attr-defined]
    sequential, batched = runs[0.0], runs[30.0]
    assert wer(LONG_TEXT, batched.text) <= wer(LONG_TEXT, sequential.text) + 0.02, batched.text
    words = [w for s in batched.segments for w in s.words]
    for start, end in speech_regions(samples, min_silence_ms=300):
        a, b = start / SAMPLE_RATE, end / SAMPLE_RATE
        if b - a >= 0.5:
            assert any(w.start < b and w.end > a for w in words), f"no words in {a:.1f}-{b:.1f} s"
    # Segments within each window, not one per window.
    assert max(s.end - s.start for s in batched.segments) < 15
    assert [s.id for s in batched.segments] == list(range(len(batched.segments)))
    # On 2 threads the batches are shared by two workers of one thread, a model of their own.
    assert engine.batched_layout == (2, 1)  # type: ignore[attr-defined]
    assert engine.batched_models.loaded() == ["tiny.en"]  # type: ignore[attr-defined]
    assert engine.models.loaded() == []  # type: ignore[attr-defined]
    # A shard that follows another hears its end first (local mode): that primes, never speaks.
    options = TranscribeOptions(model="tiny.en", lead_in=sequential.text[-400:])
    led_in = transcribe_audio(engine, samples, options)
    assert wer(LONG_TEXT, led_in.text) <= wer(LONG_TEXT, sequential.text) + 0.02, led_in.text
    assert led_in.segments[0].start < 2.0


def test_the_batched_windows_are_dealt_into_runs_each_primed_by_the_one_before() -> None:
    from audiotext.engine.batched import dealt, even, looping

    assert dealt(10, 4) == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    assert dealt(3, 4) == [[0], [1], [2]]
    assert dealt(0, 4) == []
    # Batch k holds window k of every run: each window's predecessor came in batch k - 1.
    runs = dealt(45, 4)
    assert sorted(w for run in runs for w in run) == list(range(45))
    assert all(run == list(range(run[0], run[-1] + 1)) for run in runs)
    assert even([[1, 2, 3], [4, 5]]) == [[2, 3], [4, 5]]
    assert even([[1, 2], []]) == [[], []]
    assert looping("the end. " * 30) and not looping("A short sentence, said once.")


def test_speech_a_batched_window_skipped_is_found_and_its_words_put_in_place() -> None:
    from audiotext.engine.batched import merged, uncovered

    def word(text: str, start: float, end: float) -> dict[str, object]:
        return {"word": text, "start": start, "end": end, "probability": 0.9}

    heard = [word(" One", 11.0, 11.5), word(" two.", 11.6, 12.0), word(" Three", 12.5, 13.0)]
    # The decode began late and stopped early; a pause of 0.5 s inside is no gap.
    assert uncovered(heard, 10.0, 30.0) == [(13.0, 30.0)]
    assert uncovered(heard, 8.5, 13.5) == [(8.5, 11.0)]
    assert uncovered([], 0.0, 1.5) == [] and uncovered([], 0.0, 3.0) == [(0.0, 3.0)]
    window = {"start": 10.0, "end": 13.0, "text": " One two. Three", "words": heard, "seek": 1000}
    again = {"start": 13.0, "end": 15.0, "text": " four.", "words": [word(" four.", 13.2, 14.0)]}
    (part,) = merged([window, again], lambda text: [len(text)])
    assert part["text"] == " One two. Three four." and part["tokens"] == [len(part["text"])]
    assert (part["start"], part["end"], part["seek"]) == (10.0, 15.0, 1000)
    assert [w["word"] for w in part["words"]] == [" One", " two.", " Three", " four."]
