"""Long recordings in shards: where to cut (at a silence near each nominal boundary, so no
word is cut in two), and one transcript stitched from the shards' transcripts.

``plan`` and ``stitch`` are pure; ``cut_points`` reads only a short window of audio around
each boundary, so planning a four-hour file decodes minutes of it, not hours.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiotext.diarization import DiarizeOptions
from audiotext.diarization.reconcile import Voice, renamed, speaker_names
from audiotext.engine.base import (
    SAMPLE_RATE,
    LanguageShare,
    Segment,
    Speaker,
    Transcript,
    shifted,
)

if TYPE_CHECKING:
    from audiotext.engine.base import Audio

# How far from a nominal boundary a silence is looked for, each way.
SEARCH_SECONDS = 10.0
# A pause at least this long between two stretches of speech is a place to cut.
CUT_SILENCE_MS = 300


@dataclass(frozen=True)
class Shard:
    index: int
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def describe(self) -> str:
        return f"shard {self.index} ({self.start:.1f} to {self.end:.1f} s)"


def shard_seconds_of(options: dict[str, Any] | None, default: float) -> float:
    """How long a job's shards are: what it asked for (0: one piece), else the server's."""
    asked = ((options or {}).get("sharding") or {}).get("shard_seconds")
    return float(default if asked is None else asked)


def jobs_shards(options: dict[str, Any] | None, duration: float | None, default: float) -> int:
    """How many pods a job's Indexed Job has: one per shard of a recording long enough to be
    sharded, whose duration is known before it runs (the gateway probed it)."""
    seconds = shard_seconds_of(options, default)
    if duration is None or not wanted(duration, seconds):
        return 1
    return shard_count(duration, seconds)


def wanted(duration: float, shard_seconds: float) -> bool:
    """Whether a recording this long is transcribed in shards (0: never)."""
    return 0 < shard_seconds < duration


def nominal_boundaries(duration: float, shard_seconds: float) -> list[float]:
    """Where the cuts would fall without looking at the audio: every ``shard_seconds``,
    the last shard taking a short remainder rather than making a tiny shard of it."""
    if shard_seconds <= 0 or duration <= shard_seconds:
        return []
    count = max(1, round(duration / shard_seconds))
    step = duration / count
    return [step * i for i in range(1, count)]


def plan(duration: float, cuts: Sequence[float]) -> list[Shard]:
    """Shards between ``cuts`` (in order, inside the recording)."""
    edges = [0.0, *cuts, duration]
    return [Shard(i, edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def quietest_cut(nominal: float, speech: Sequence[tuple[float, float]], reach: float) -> float:
    """The middle of the pause nearest ``nominal`` (``speech`` are the stretches of speech
    around it, in seconds, in order); ``nominal`` itself when none is within ``reach``."""
    pauses = [(a_end, b_start) for (_, a_end), (b_start, _) in itertools.pairwise(speech)]
    if speech:
        pauses = [(nominal - reach, speech[0][0]), *pauses, (speech[-1][1], nominal + reach)]
    candidates = [(a + b) / 2 for a, b in pauses if b > a and abs((a + b) / 2 - nominal) <= reach]
    if not speech:
        return nominal  # all silence: anywhere is a good place
    return min(candidates, key=lambda t: abs(t - nominal), default=nominal)


def shard_count(duration: float, shard_seconds: float) -> int:
    """How many shards a recording this long is cut into: known from its duration alone, so
    the operator can size the Indexed Job before any pod has looked at the audio."""
    return len(nominal_boundaries(duration, shard_seconds)) + 1


def nominal_shard(index: int, duration: float, shard_seconds: float) -> Shard:
    """Shard ``index`` as the nominal boundaries place it (within ``SEARCH_SECONDS`` of where
    its cuts fall): for messages where the cuts are not known."""
    return plan(duration, nominal_boundaries(duration, shard_seconds))[index]


def search_reach(duration: float, shard_seconds: float) -> float:
    """How far from a nominal boundary its cut may move: never as far as the next boundary's
    reach, so every cut is found on its own and the cuts stay in order."""
    boundaries = nominal_boundaries(duration, shard_seconds)
    step = boundaries[0] if boundaries else duration
    return min(SEARCH_SECONDS, step / 4)


def cut_points(
    path: Path,
    duration: float,
    shard_seconds: float,
    decode_range: Callable[[Path, float, float], Audio],
    speech_regions: Callable[[Audio], Sequence[tuple[int, int]]],
) -> list[float]:
    """Blocking: a cut at a pause near each nominal boundary, each found from the audio
    within its reach of it alone, so every shard's pod finds the same cuts."""
    reach = search_reach(duration, shard_seconds)
    cuts: list[float] = []
    for nominal in nominal_boundaries(duration, shard_seconds):
        start = max(0.0, nominal - reach)
        window = decode_range(path, start, min(duration, nominal + reach))
        speech = [
            (start + a / SAMPLE_RATE, start + b / SAMPLE_RATE) for a, b in speech_regions(window)
        ]
        cuts.append(round(quietest_cut(nominal, speech, reach), 3))
    return cuts


def stitch(
    shards: Sequence[Shard],
    parts: Sequence[Transcript],
    duration: float,
    voices: Sequence[Mapping[str, Voice]] | None = None,
    speakers: DiarizeOptions | None = None,
) -> Transcript:
    """One transcript of the whole recording: each shard's segments shifted by where it
    starts and numbered on; languages summed over the shards; with the ``voices`` of the
    shards' speakers, one voice has one name over the whole recording (``speakers`` bounds
    how many)."""
    if voices is not None:
        bounds = speakers or DiarizeOptions()
        names = speaker_names(voices, bounds.min_speakers, bounds.max_speakers)
        parts = [renamed(part, named) for part, named in zip(parts, names, strict=True)]
    segments: list[Segment] = []
    for shard, part in zip(shards, parts, strict=True):
        segments.extend(shifted(s, shard.start, len(segments)) for s in part.segments)
    languages = _languages(shards, parts)
    dominant = languages[0].language if languages else parts[0].language if parts else ""
    return Transcript(
        language=dominant,
        duration=duration,
        segments=[replace(s, id=i) for i, s in enumerate(segments)],
        task=parts[0].task if parts else "transcribe",
        speakers=_speakers(parts),
        languages=languages if len(languages) > 1 else None,
    )


def _speakers(parts: Sequence[Transcript]) -> list[Speaker] | None:
    """Each speaker's time summed over the shards (None: not diarized)."""
    if all(part.speakers is None for part in parts):
        return None
    seconds: dict[str, float] = {}
    for part in parts:
        for speaker in part.speakers or []:
            seconds[speaker.id] = seconds.get(speaker.id, 0.0) + speaker.seconds
    return [Speaker(name, round(spoke, 3)) for name, spoke in seconds.items()]


def _languages(shards: Sequence[Shard], parts: Sequence[Transcript]) -> list[LanguageShare]:
    seconds: dict[str, float] = {}
    weighted: dict[str, float] = {}
    for shard, part in zip(shards, parts, strict=True):
        shares = part.languages or [LanguageShare(part.language, shard.seconds, 1.0)]
        for share in shares:
            if not share.language:
                continue
            seconds[share.language] = seconds.get(share.language, 0.0) + share.seconds
            weighted[share.language] = (
                weighted.get(share.language, 0.0) + share.probability * share.seconds
            )
    return sorted(
        (
            LanguageShare(lang, round(sec, 3), round(weighted[lang] / sec, 4) if sec else 0.0)
            for lang, sec in seconds.items()
        ),
        key=lambda share: -share.seconds,
    )
