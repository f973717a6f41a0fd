"""Pure: the speakers of a recording transcribed in shards, reconciled over the whole file.

Each shard's pod diarizes its own stretch and names its speakers SPEAKER_00, SPEAKER_01, … in
its own order; it also keeps each speaker's voice (the unit mean of its windows' embeddings).
A voice's mean over minutes of speech is far steadier than one window, so the shards'
speakers are grouped by their voices: average linkage on cosine similarity while the nearest
two groups are as alike as one voice (``SAME_VOICE``), and always down to ``max_speakers``
(never below ``min_speakers``). Two speakers of one shard are never joined (its own
diarization heard them apart), nor are two that known voices named differently.

Plain Python, no numpy: the operator, which stitches, runs in an image without it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from audiotext.diarization.turns import speaker_name
from audiotext.engine.base import Segment, Speaker, Transcript, Word

SAME_VOICE = 0.8
_FOUND = re.compile(r"SPEAKER_\d+")

Voice = Sequence[float]
Voices = dict[str, list[float]]  # a shard's speakers' voices, by its names for them


@dataclass
class _Group:
    members: list[tuple[int, str]]  # (shard, its name there)
    shards: set[int]
    known: str | None  # the name a known voice gave it


def speaker_names(
    voices: Sequence[Mapping[str, Voice]], min_speakers: int = 1, max_speakers: int = 20
) -> list[dict[str, str]]:
    """For each shard (its speakers' voices, by its names for them, in order of first
    appearance), its names → the names over the whole recording: a known voice's name stays,
    the others are SPEAKER_00, SPEAKER_01, … in order of first appearance in the file."""
    members = [(shard, name) for shard, found in enumerate(voices) for name in found]
    vectors = [_unit(voices[shard][name]) for shard, name in members]
    groups = [
        _Group([(shard, name)], {shard}, None if _FOUND.fullmatch(name) else name)
        for shard, name in members
    ]
    similarity = {
        (a, b): _dot(vectors[a], vectors[b])
        for a in range(len(groups))
        for b in range(a + 1, len(groups))
    }
    alive = list(range(len(groups)))
    low = max(1, min_speakers)
    while len(alive) > low:
        pairs = [
            (similarity[a, b], a, b)
            for i, a in enumerate(alive)
            for b in alive[i + 1 :]
            if _may_join(groups[a], groups[b])
        ]
        if not pairs:
            break
        score, a, b = max(pairs)
        if score < SAME_VOICE and len(alive) <= max_speakers:
            break
        _join(groups, similarity, alive, a, b)
    return _names(voices, [groups[g] for g in alive])


def _may_join(a: _Group, b: _Group) -> bool:
    return not (a.shards & b.shards) and not (a.known and b.known and a.known != b.known)


def _join(
    groups: list[_Group],
    similarity: dict[tuple[int, int], float],
    alive: list[int],
    a: int,
    b: int,
) -> None:
    """Group ``b`` into ``a``; ``a``'s similarity to the rest is the size-weighted mean."""
    size_a, size_b = len(groups[a].members), len(groups[b].members)
    for other in alive:
        if other in (a, b):
            continue
        key_a, key_b = (min(a, other), max(a, other)), (min(b, other), max(b, other))
        similarity[key_a] = (size_a * similarity[key_a] + size_b * similarity[key_b]) / (
            size_a + size_b
        )
    groups[a].members.extend(groups[b].members)
    groups[a].shards |= groups[b].shards
    groups[a].known = groups[a].known or groups[b].known
    alive.remove(b)


def _names(voices: Sequence[Mapping[str, Voice]], groups: list[_Group]) -> list[dict[str, str]]:
    group_of = {member: i for i, group in enumerate(groups) for member in group.members}
    named: dict[int, str] = {i: g.known for i, g in enumerate(groups) if g.known}
    found = 0
    mapping: list[dict[str, str]] = [{} for _ in voices]
    for shard, speakers in enumerate(voices):
        for name in speakers:  # in order of first appearance: shards in order, then their own
            group = group_of[shard, name]
            if group not in named:
                named[group], found = speaker_name(found), found + 1
            mapping[shard][name] = named[group]
    return mapping


def renamed(transcript: Transcript, names: Mapping[str, str]) -> Transcript:
    """``transcript`` with its speakers called by ``names`` (the ones not in it keep theirs)."""

    def name(speaker: str | None) -> str | None:
        return names.get(speaker, speaker) if speaker is not None else None

    def word(w: Word) -> Word:
        return replace(w, speaker=name(w.speaker))

    def segment(s: Segment) -> Segment:
        return replace(s, speaker=name(s.speaker), words=[word(w) for w in s.words])

    speakers = None
    if transcript.speakers is not None:
        speakers = [Speaker(names.get(s.id, s.id), s.seconds) for s in transcript.speakers]
    return replace(
        transcript, segments=[segment(s) for s in transcript.segments], speakers=speakers
    )


def _unit(vector: Voice) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))
