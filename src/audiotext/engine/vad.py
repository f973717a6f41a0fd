"""Where the speech is: Silero VAD (shipped with faster-whisper), for everything that cuts or
looks at audio by its speech (whole-file languages, early text, diarization)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from audiotext.engine.base import Audio


def speech_regions(audio: Audio, min_silence_ms: int, pad_ms: int = 400) -> list[tuple[int, int]]:
    """(start, end) samples of each stretch of speech: pauses shorter than ``min_silence_ms``
    do not end one, and each is widened by ``pad_ms`` on both sides (400: Silero's own)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=min_silence_ms, speech_pad_ms=pad_ms)
    return [(int(s["start"]), int(s["end"])) for s in get_speech_timestamps(audio, options)]
