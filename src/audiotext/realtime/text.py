"""How a live turn's words are agreed on: pure functions over lists of words.

A turn is decoded with the turn before it in front (Whisper hears more than one short
sentence, as it does in a file), so its words are what comes after the previous turn's.
Partial decodes send only the words two decodes in a row agree on; the completed transcript
is the whole turn decoded once more, and it is the one that counts.
"""

from __future__ import annotations

import difflib

from audiotext.engine.base import SENTENCE_ENDS
from audiotext.engine.hallucination import normalized


def same(a: str, b: str) -> bool:
    return normalized(a) == normalized(b)  # "Like," and "like" are the same word


def stable_words(before: list[str], now: list[str]) -> list[str]:
    """The words two decodes in a row agree on, from the start (the last word of the newer
    one is left out: it may be cut off mid-word)."""
    agreed: list[str] = []
    for a, b in zip(before, now[:-1], strict=False):
        if not same(a, b):
            break
        agreed.append(b)
    return agreed


def continuation(emitted: str, words: list[str]) -> str:
    """The delta that takes the text sent so far to ``words`` ("" when ``words`` does not
    start with the words sent, or adds nothing)."""
    said = emitted.split()
    if len(words) <= len(said) or not all(map(same, said, words)):
        return ""
    rest = " ".join(words[len(said) :])
    return f" {rest}" if said else rest


def after_context(context: list[str], words: list[str]) -> list[str] | None:
    """The words of a decode that come after the context's words, which the decode heard
    first. The context's last matching run marks where it ends. Context words the decode heard
    differently after that run ("nine percent" as "9%.") are skipped: up to the sentence's end
    where the context ends one, else one for one. None when the decode does not clearly
    contain the context (then the turn is decoded alone)."""
    if not context:
        return words
    keys = [normalized(w) for w in context]
    matcher = difflib.SequenceMatcher(None, keys, [normalized(w) for w in words], autojunk=False)
    runs = [run for run in matcher.get_matching_blocks() if run.size]
    if not runs or sum(run.size for run in runs) * 2 < len(context):
        return None
    last = runs[-1]
    rest, unheard = words[last.b + last.size :], len(context) - (last.a + last.size)
    if unheard and context[-1].endswith(SENTENCE_ENDS):
        for i, word in enumerate(rest[: unheard + 2]):
            if word.endswith(SENTENCE_ENDS):
                return rest[i + 1 :]
    return rest[unheard:]
