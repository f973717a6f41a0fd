"""The diarization of one recording, over the speaker network and the pure steps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from audiotext.diarization import DiarizeOptions
from audiotext.diarization.clustering import cluster, unit
from audiotext.diarization.encoder import Array, SpeakerEncoder, volume_gain
from audiotext.diarization.reconcile import Voices
from audiotext.diarization.turns import (
    Turn,
    assign_speakers,
    speaker_name,
    speaker_turns,
    window_starts,
)
from audiotext.engine.base import SAMPLE_RATE, Speaker, Transcript
from audiotext.engine.vad import speech_regions

WINDOW_SECONDS = 1.6
STEP_SECONDS = 0.5
# How alike a known speaker's clip and a speaker found must be for the speaker to take its name.
KNOWN_VOICE = 0.7


@dataclass(frozen=True)
class Diarization:
    transcript: Transcript
    voices: Voices  # each speaker's voice (unit mean embedding), by name


def speech_seconds(samples: Array) -> list[tuple[float, float]]:
    """(start, end) seconds of each stretch of speech."""
    regions = speech_regions(samples, min_silence_ms=250, pad_ms=100)
    return [(start / SAMPLE_RATE, end / SAMPLE_RATE) for start, end in regions]


def speaking_time(turns: list[Turn], names: dict[int, str]) -> list[Speaker]:
    seconds: dict[int, float] = {}
    for turn in turns:
        seconds[turn.speaker] = seconds.get(turn.speaker, 0.0) + turn.end - turn.start
    return [Speaker(names[i], round(seconds[i], 3)) for i in sorted(seconds)]


class Diarizer:
    def __init__(self, encoder: SpeakerEncoder) -> None:
        self.encoder = encoder

    def diarize(
        self,
        samples: Array,
        transcript: Transcript,
        options: DiarizeOptions,
        known: Sequence[tuple[str, Array]] = (),
    ) -> Transcript:
        """Blocking: ``transcript`` with a speaker on every segment and word, and the
        speakers' list; segments that span a change of speaker are split there. A speaker
        whose voice matches one of the ``known`` (name, clip) pairs takes its name."""
        return self.diarization(samples, transcript, options, known).transcript

    def diarization(
        self,
        samples: Array,
        transcript: Transcript,
        options: DiarizeOptions,
        known: Sequence[tuple[str, Array]] = (),
    ) -> Diarization:
        """Blocking: as ``diarize``, with each speaker's voice (to reconcile shards by)."""
        regions = speech_seconds(samples)
        if not regions:
            return Diarization(replace(transcript, speakers=[]), {})
        duration = len(samples) / SAMPLE_RATE
        starts = window_starts(regions, WINDOW_SECONDS, STEP_SECONDS, duration)
        # The speech's level, not the silences', sets the gain.
        speech = [samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in regions]
        embeddings = self.encoder.embed_windows(samples, _offsets(starts), volume_gain(speech))
        labels = cluster(embeddings, options.min_speakers, options.max_speakers)
        turns = speaker_turns(regions, starts, labels.tolist(), WINDOW_SECONDS)
        centres = np.stack(
            [unit(embeddings[labels == c].mean(0)) for c in range(int(labels.max()) + 1)]
        )
        names = {i: speaker_name(i) for i in range(len(centres))}
        names.update(self._known_names(centres, known))
        diarized = replace(
            transcript,
            segments=assign_speakers(transcript.segments, turns, names),
            speakers=speaking_time(turns, names),
        )
        spoke = {speaker.id for speaker in diarized.speakers or []}
        voices = {names[i]: centres[i].tolist() for i in names if names[i] in spoke}
        return Diarization(diarized, voices)

    def voice_of(self, clip: Array) -> Array:
        """One unit embedding for a clip of one voice: the mean over its windows."""
        step = int(STEP_SECONDS * SAMPLE_RATE)
        starts = list(range(0, max(1, len(clip) - int(WINDOW_SECONDS * SAMPLE_RATE)), step))
        return unit(self.encoder.embed_windows(clip, starts, volume_gain([clip])).mean(axis=0))

    def _known_names(self, centres: Array, known: Sequence[tuple[str, Array]]) -> dict[int, str]:
        """Each known voice names the speaker nearest to it, best matches first, one each."""
        if not known:
            return {}
        voices = np.stack([self.voice_of(clip) for _, clip in known])
        similarity = voices @ centres.T
        pairs = sorted(
            (
                (float(similarity[v, c]), v, c)
                for v in range(len(known))
                for c in range(len(centres))
            ),
            reverse=True,
        )
        named: dict[int, str] = {}
        used: set[int] = set()
        for score, voice, speaker in pairs:
            if score >= KNOWN_VOICE and voice not in used and speaker not in named:
                named[speaker] = known[voice][0]
                used.add(voice)
        return named


def _offsets(starts: list[float]) -> list[int]:
    return [int(s * SAMPLE_RATE) for s in starts]
