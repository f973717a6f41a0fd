"""The language of the whole file, not of its first 30 s: the speech (after VAD) is cut into
stretches, each stretch's language is detected, and runs of one language become the spans a
file is transcribed in, each in its own language (a file that switches language)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audiotext.engine.base import SAMPLE_RATE, LanguageShare
from audiotext.engine.vad import speech_regions

if TYPE_CHECKING:
    from audiotext.engine.base import Audio

# A stretch of speech long enough for Whisper to tell its language, short enough to follow a
# switch; pauses this long or longer end a stretch early.
STRETCH_SECONDS = (8.0, 25.0)
# Whole-file detection first looks at about one stretch this many seconds apart, and at no
# more than MAX_STRETCHES in all (each is one pass of the encoder).
COARSE_SECONDS = 60.0
MAX_STRETCHES = 48
# A stretch detected with less confidence than this takes its neighbours' language.
SURE = 0.5

Detect = Callable[["Audio"], tuple[str, float]]


@dataclass(frozen=True)
class Span:
    """Samples [start, end) of the file, in one language."""

    start: int
    end: int
    language: str
    probability: float

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / SAMPLE_RATE


def stretches(regions: Sequence[tuple[int, int]], length: int) -> list[tuple[int, int, int]]:
    """The file cut at pauses into stretches of about STRETCH_SECONDS of speech, covering it
    all (samples 0 to ``length``): (start, end, where its speech starts). Each ends halfway
    into the pause after it."""
    if not regions:
        return []
    shortest, longest = (s * SAMPLE_RATE for s in STRETCH_SECONDS)
    result = []
    start, voiced = 0, regions[0][0]
    for (_, end), (following, _) in itertools.pairwise(regions):
        if end - voiced >= shortest or following - voiced > longest:
            cut = (end + following) // 2
            result.append((start, cut, voiced))
            start, voiced = cut, following
    result.append((start, length, voiced))
    return result


def spans(detected: Sequence[tuple[tuple[int, int], str, float]]) -> list[Span]:
    """Runs of one language from each stretch's (bounds, language, probability): an unsure
    stretch takes the language of the sure one before it (or after, at the start), so a
    span is not split by one doubtful guess."""
    sure = [(b, lang, p) for b, lang, p in detected if p >= SURE]
    fallback = sure[0][1] if sure else (detected[0][1] if detected else "en")
    result: list[Span] = []
    current = fallback
    for (start, end), language, probability in detected:
        if probability >= SURE:
            current = language
        if result and result[-1].language == current:
            last = result[-1]
            weight = last.seconds + (end - start) / SAMPLE_RATE
            mean = last.probability * last.seconds + probability * (end - start) / SAMPLE_RATE
            result[-1] = Span(last.start, end, current, mean / weight if weight else probability)
        else:
            result.append(Span(start, end, current, probability))
    return result


def shares(found: Sequence[Span], speech: Sequence[tuple[int, int]]) -> list[LanguageShare]:
    """How many seconds of speech each language has, the most first."""
    seconds: dict[str, float] = {}
    weighted: dict[str, float] = {}
    for span in found:
        spoken = sum(max(0, min(e, span.end) - max(s, span.start)) for s, e in speech)
        spoken_s = spoken / SAMPLE_RATE
        seconds[span.language] = seconds.get(span.language, 0.0) + spoken_s
        weighted[span.language] = weighted.get(span.language, 0.0) + span.probability * spoken_s
    return sorted(
        (
            LanguageShare(lang, round(sec, 3), round(weighted[lang] / sec, 4) if sec else 0.0)
            for lang, sec in seconds.items()
        ),
        key=lambda share: -share.seconds,
    )


def language_spans(audio: Audio, detect: Detect) -> tuple[list[Span], list[LanguageShare]]:
    """The spans of ``audio`` by language, and each language's share of the speech.

    Detection is coarse first (about one stretch every COARSE_SECONDS, at most MAX_STRETCHES)
    and fine only where two of those disagree: each detection is an encoder pass, and most
    files are in one language."""
    speech = speech_regions(audio, min_silence_ms=300)
    cut = stretches(speech, len(audio))
    if not cut:
        return [], []
    seconds = len(audio) / SAMPLE_RATE / len(cut)
    step = max(1, -(-len(cut) // MAX_STRETCHES), round(COARSE_SECONDS / max(seconds, 1.0)))
    results: dict[int, tuple[str, float]] = {}

    def detected_at(index: int) -> tuple[str, float]:
        if index not in results:
            _, end, voiced = cut[index]
            results[index] = detect(audio[voiced:end])  # its speech, not what leads in
        return results[index]

    sampled = sorted({*range(0, len(cut), step), len(cut) - 1})
    for before, after in itertools.pairwise(sampled):
        (first, sure_first), (second, sure_second) = detected_at(before), detected_at(after)
        if first != second or min(sure_first, sure_second) < SURE:
            for index in range(before + 1, after):
                detected_at(index)
    detected = []
    language, probability = detected_at(0)
    for index, (start, end, _) in enumerate(cut):
        if index in results:
            language, probability = results[index]  # else: carried from the one before
        detected.append(((start, end), language, probability))
    found = spans(detected)
    return found, shares(found, speech)
