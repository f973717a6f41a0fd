"""No invented text: what Whisper says over silence and noise is dropped, its repetition
loops are cut, and every segment says how far it can be trusted.

Pure functions over our Segment; the pipeline runs every engine's segments through
``checked`` before anyone sees them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from audiotext.engine.base import Segment

# What the models say over silence, music and noise (their subtitle training data), compared
# without case and punctuation.
KNOWN_PHRASES = frozenset(
    {
        "you",
        "thank you",
        "thanks",
        "thank you very much",
        "thanks for watching",
        "thank you for watching",
        "thank you for watching and see you next time",
        "please subscribe",
        "like and subscribe",
        "subtitles by the amara org community",
        "transcribed by",
        "bye",
        "that s all",  # base over a tone sweep, when its fallback samples
        "that s it",
        "so",
        "oh",
        "hmm",
        "music",
        "applause",
        "laughter",
    }
)
# Decoder loops: the same few words over and over, faster than anyone speaks.
LOOP_REPEATS = 4
LOOP_MAX_NGRAM = 8
SPOKEN_WORDS_PER_SECOND = 4.5
# Whisper's own compression-ratio limit: text that compresses this well is repetitive.
COMPRESSION_LIMIT = 2.4


def normalized(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def invented(segment: Segment) -> bool:
    """Text over what was not speech: the model itself thought there was none, or it is one
    of its stock phrases said without confidence."""
    if segment.no_speech_prob >= 0.6 and segment.avg_logprob < -0.5:
        return True
    if segment.no_speech_prob >= 0.8 and segment.avg_logprob < -0.3:
        return True  # sure there is no speech, and not sure of the words
    stock = normalized(segment.text) in KNOWN_PHRASES
    if stock and (segment.no_speech_prob >= 0.3 or segment.avg_logprob < -0.7):
        return True
    # A doubtful phrase said over and over (what the models make of a tone): three times, or
    # twice when the decoder all but guessed it.
    words = normalized(segment.text).split()
    if segment.avg_logprob < -1.0 and said_again(words, times=2):
        return True
    return segment.avg_logprob < -0.8 and said_again(words)


def said_again(words: list[str], n: int = 4, times: int = 3) -> bool:
    """Some ``n`` words in a row come ``times`` times or more."""
    seen: dict[tuple[str, ...], int] = {}
    for start in range(len(words) - n + 1):
        gram = tuple(words[start : start + n])
        seen[gram] = seen.get(gram, 0) + 1
        if seen[gram] >= times:
            return True
    return False


def loop_start(words: list[str]) -> int | None:
    """Where a run of the same n-gram (up to LOOP_MAX_NGRAM words), LOOP_REPEATS times or
    more in a row, begins its second occurrence (what is cut); None without one."""
    for n in range(1, LOOP_MAX_NGRAM + 1):
        for start in range(len(words) - n * LOOP_REPEATS + 1):
            gram = words[start : start + n]
            count = 1
            while words[start + count * n : start + (count + 1) * n] == gram:
                count += 1
            if count >= LOOP_REPEATS:
                return start + n
    return None


def without_loop(segment: Segment) -> Segment | None:
    """``segment`` cut after the first round of a decoder loop, flagged; None when it has
    none. Real repetition (a phrase said again and again) keeps the pace of speech and is
    decoded with confidence, so it is kept."""
    words = segment.text.split()
    duration = max(segment.end - segment.start, 0.01)
    fast = len(words) / duration > SPOKEN_WORDS_PER_SECOND
    if not (fast or segment.avg_logprob < -0.8):
        return None
    cut = loop_start([normalized(w) for w in words])
    if cut is None:
        return None
    text = " " + " ".join(words[:cut])
    return replace(
        segment,
        text=text,
        words=segment.words[:cut] if len(segment.words) == len(words) else segment.words,
        repetition_cut=True,
        confidence="low",
    )


def confidence(segment: Segment) -> str:
    """high, medium or low, from the decoder's mean log-probability, its no-speech
    probability and how well the text compresses (the README has the bounds)."""
    if (
        segment.avg_logprob < -1.0
        or segment.no_speech_prob > 0.6
        or segment.compression_ratio > COMPRESSION_LIMIT
    ):
        return "low"
    if (
        segment.avg_logprob < -0.5
        or segment.no_speech_prob > 0.3
        or segment.compression_ratio > 2.0
    ):
        return "medium"
    return "high"


def checked(segments: Iterator[Segment]) -> Iterator[Segment]:
    """The segments with invented ones dropped, loops cut, each with its confidence, and
    numbered again from 0."""
    index = 0
    for segment in segments:
        if not segment.text.strip() or invented(segment):
            continue
        cut = without_loop(segment)
        kept = cut if cut is not None else replace(segment, confidence=confidence(segment))
        yield replace(kept, id=index)
        index += 1
