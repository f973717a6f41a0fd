"""Speech engines behind one interface; models are loaded once per process and reused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audiotext.config import Settings
from audiotext.engine.base import (
    Engine,
    Segment,
    TranscribeOptions,
    Transcript,
    TranscriptInfo,
    Word,
)
from audiotext.jobs.choices import ENGINES
from audiotext.jobs.errors import InvalidParameter

if TYPE_CHECKING:
    from audiotext.diarization import SpeakerModels

__all__ = [
    "Engine",
    "EngineRegistry",
    "Segment",
    "TranscribeOptions",
    "Transcript",
    "TranscriptInfo",
    "Word",
]


class EngineRegistry:
    """One instance of each engine per process, created on first use; and the speaker
    network for diarization, loaded on the first job that asks for it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engines: dict[str, Engine] = {}
        # Imported here: diarization speaks the transcript types of engine.base.
        from audiotext.diarization import SpeakerModels

        self.speakers: SpeakerModels = SpeakerModels(settings.speaker_model)

    def get(self, name: str | None = None) -> Engine:
        name = name or self.settings.engine
        if name not in self._engines:
            if name == "faster-whisper":
                from audiotext.engine.faster_whisper import FasterWhisperEngine

                self._engines[name] = FasterWhisperEngine(self.settings)
            elif name == "openai-whisper":
                from audiotext.engine.openai_whisper import OpenAIWhisperEngine

                self._engines[name] = OpenAIWhisperEngine(self.settings)
            else:
                raise InvalidParameter(f"unknown engine {name!r}; choose one of {ENGINES}")
        return self._engines[name]
