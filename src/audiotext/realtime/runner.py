"""What a live session runs on: the engine's decoder and Silero VAD (where the engine is
installed: numpy and faster-whisper)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from audiotext.config import Settings
from audiotext.engine import Engine, TranscribeOptions
from audiotext.engine.catalog import available_models, find_model
from audiotext.pipeline import transcribe_audio
from audiotext.realtime.protocol import SessionConfig
from audiotext.realtime.session import Audio, Transcribe

if TYPE_CHECKING:
    import numpy.typing as npt


def model_names(settings: Settings) -> frozenset[str]:
    return frozenset(entry.id for entry in available_models(settings))


def decoder(engine: Engine, settings: Settings) -> Transcribe:
    """Blocking: the text of one stretch of live audio, checked for invented text."""

    def transcribe(audio: Audio, config: SessionConfig) -> str:
        entry = find_model(settings, config.model)
        model = (entry.alias_of or entry.id) if entry else config.model
        options = TranscribeOptions(
            model=model,
            language=config.language,
            prompt=config.prompt or None,
            word_timestamps=False,
            vad_filter=False,  # a turn is speech already
            beam_size=settings.beam_size,
        )
        return transcribe_audio(engine, audio, options).text

    return transcribe


def speech_probabilities(audio: Audio) -> npt.NDArray[np.float32]:
    """Silero VAD's speech probability for each 512-sample frame."""
    from faster_whisper.vad import get_vad_model

    return np.asarray(get_vad_model()(audio), dtype=np.float32).reshape(-1)
