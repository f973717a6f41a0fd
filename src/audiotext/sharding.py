"""Long recordings in shards: where to cut (at a silence near each nominal boundary, so no
word is cut in two), and one transcript stitched from the shards' transcripts.

``plan`` and ``stitch`` are pure; ``cut_points`` reads only a short window of audio around
each boundary, so planning a four-hour file decodes minutes of it, not hours.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from audiotext.engine.base import SAMPLE_RATE, LanguageShare, Segment, Transcript, shifted
from audiotext.jobs.choices import MIN_SHARD_SECONDS

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


def cut_points(
    path: Path,
    duration: float,
    shard_seconds: float,
    decode_range: Callable[[Path, float, float], Audio],
    speech_regions: Callable[[Audio], Sequence[tuple[int, int]]],
) -> list[float]:
    """Blocking: a cut at a pause near each nominal boundary, each found from the audio
    within ``SEARCH_SECONDS`` of it."""
    cuts: list[float] = []
    for nominal in nominal_boundaries(duration, shard_seconds):
        start = max(0.0, nominal - SEARCH_SECONDS)
        window = decode_range(path, start, min(duration, nominal + SEARCH_SECONDS))
        speech = [
            (start + a / SAMPLE_RATE, start + b / SAMPLE_RATE) for a, b in speech_regions(window)
        ]
        cut = quietest_cut(nominal, speech, SEARCH_SECONDS)
        if not cuts or cut - cuts[-1] >= MIN_SHARD_SECONDS / 2:
            cuts.append(round(cut, 3))
    return cuts


def stitch(shards: Sequence[Shard], parts: Sequence[Transcript], duration: float) -> Transcript:
    """One transcript of the whole recording: each shard's segments shifted by where it
    starts and numbered on; languages summed over the shards."""
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
        languages=languages if len(languages) > 1 else None,
    )


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
