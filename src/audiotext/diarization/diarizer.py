"""The diarization of one recording, over the speaker network and the pure steps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from audiotext.diarization import DiarizeOptions
from audiotext.diarization.clustering import cluster
from audiotext.diarization.encoder import Array, SpeakerEncoder, volume_gain
from audiotext.diarization.turns import (
    Turn,
    assign_speakers,
    speaker_name,
    speaker_turns,
    window_starts,
)
from audiotext.engine.base import SAMPLE_RATE, Speaker, Transcript

WINDOW_SECONDS = 1.6
STEP_SECONDS = 0.5


def speech_regions(samples: Array) -> list[tuple[float, float]]:
    """(start, end) seconds of each stretch of speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    stamps = get_speech_timestamps(
        samples, VadOptions(min_silence_duration_ms=250, speech_pad_ms=100)
    )
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def speaking_time(turns: list[Turn]) -> list[Speaker]:
    seconds: dict[int, float] = {}
    for turn in turns:
        seconds[turn.speaker] = seconds.get(turn.speaker, 0.0) + turn.end - turn.start
    return [Speaker(speaker_name(i), round(seconds[i], 3)) for i in sorted(seconds)]


class Diarizer:
    def __init__(self, encoder: SpeakerEncoder) -> None:
        self.encoder = encoder

    def diarize(
        self, samples: Array, transcript: Transcript, options: DiarizeOptions
    ) -> Transcript:
        """Blocking: ``transcript`` with a speaker on every segment and word, and the
        speakers' list; segments that span a change of speaker are split there."""
        regions = speech_regions(samples)
        if not regions:
            return replace(transcript, speakers=[])
        duration = len(samples) / SAMPLE_RATE
        starts = window_starts(regions, WINDOW_SECONDS, STEP_SECONDS, duration)
        # The speech's level, not the silences', sets the gain.
        gain = volume_gain(_concatenated(samples, regions))
        scaled = (samples * gain).astype(samples.dtype) if gain > 1 else samples
        embeddings = self.encoder.embed_windows(scaled, [int(s * SAMPLE_RATE) for s in starts])
        labels = cluster(embeddings, options.min_speakers, options.max_speakers)
        turns = speaker_turns(regions, starts, labels.tolist(), WINDOW_SECONDS)
        return replace(
            transcript,
            segments=assign_speakers(transcript.segments, turns),
            speakers=speaking_time(turns),
        )


def _concatenated(samples: Array, regions: list[tuple[float, float]]) -> Array:
    parts = [samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in regions]
    return np.concatenate(parts) if parts else samples
