"""What a live session runs on: the engine's decoder and Silero VAD, and the sessions a
process and each API key may hold at once."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from audiotext.config import Settings
from audiotext.engine import Engine, TranscribeOptions
from audiotext.engine.catalog import available_models, find_model
from audiotext.jobs.errors import AudioTextError
from audiotext.pipeline import transcribe_audio
from audiotext.realtime.protocol import SessionConfig
from audiotext.realtime.session import Audio, Transcribe

if TYPE_CHECKING:
    import numpy.typing as npt


class SessionsFull(AudioTextError):
    status_code = 429
    code = "too_many_sessions"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": "5"}


class SessionSlots:
    """Sessions open now, per process and per API key."""

    def __init__(self, per_process: int, per_key: int) -> None:
        self.per_process = per_process
        self.per_key = per_key
        self.open: collections.Counter[str] = collections.Counter()

    def take(self, owner: str | None) -> Callable[[], None]:
        """A session for ``owner``, or ``SessionsFull``; call what it returns to give it back."""
        who = owner or ""
        if sum(self.open.values()) >= self.per_process:
            raise SessionsFull(
                f"this server holds {self.per_process} live sessions at once; try again soon"
            )
        if owner is not None and self.open[who] >= self.per_key:
            raise SessionsFull(f"this API key may hold {self.per_key} live sessions at once")
        self.open[who] += 1

        def release() -> None:
            self.open[who] -= 1

        return release


def model_names(settings: Settings) -> frozenset[str]:
    return frozenset(entry.id for entry in available_models(settings))


def decoder(engine: Engine, settings: Settings) -> Transcribe:
    """Blocking: the text of one stretch of live audio, checked for invented text."""

    def transcribe(audio: Audio, config: SessionConfig, prefix: str) -> str:
        entry = find_model(settings, config.model)
        model = (entry.alias_of or entry.id) if entry else config.model
        options = TranscribeOptions(
            model=model,
            language=config.language,
            prompt=config.prompt or None,
            word_timestamps=False,
            vad_filter=False,  # a turn is speech already
            beam_size=settings.beam_size,
            prefix=prefix or None,
        )
        return transcribe_audio(engine, audio, options).text

    return transcribe


def speech_probabilities(audio: Audio) -> npt.NDArray[np.float32]:
    """Silero VAD's speech probability for each 512-sample frame."""
    from faster_whisper.vad import get_vad_model

    return np.asarray(get_vad_model()(audio), dtype=np.float32).reshape(-1)
