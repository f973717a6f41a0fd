"""Pure: speech regions and labelled windows → speaker turns → speakers of words and segments.

Every 0.1 s of speech takes the speaker of the window centred nearest to it; a run shorter
than ``MIN_TURN`` between two runs of one speaker is taken for that speaker (a window or two
that strayed). Words take the speaker of the turn they overlap most, and a segment that spans a
change of speaker is split at the first word of the new one. Words and segments are then kept
out of the other speakers' turns around them: the ASR's times are rougher than the turns.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace

from audiotext.engine.base import Segment, Word

STEP = 0.1
MIN_TURN = 0.6


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: int


def speaker_name(index: int) -> str:
    return f"SPEAKER_{index:02d}"


def window_starts(
    regions: Sequence[tuple[float, float]], window: float, step: float, duration: float
) -> list[float]:
    """Where windows start in each speech region; a region shorter than one window gets one,
    centred on it (and kept inside the audio)."""
    starts: list[float] = []
    for start, end in regions:
        if end - start <= window:
            middle = (start + end) / 2
            starts.append(max(0.0, min(middle - window / 2, duration - window)))
            continue
        position = start
        while position + window <= end:
            starts.append(position)
            position += step
        if starts[-1] + window < end:
            starts.append(end - window)  # the region's tail
    return starts


def speaker_turns(
    regions: Sequence[tuple[float, float]],
    starts: Sequence[float],
    labels: Sequence[int],
    window: float,
) -> list[Turn]:
    centres = [s + window / 2 for s in starts]  # in time order, as the windows are
    runs: list[Turn] = []
    for start, end in regions:
        first = bisect.bisect_left(centres, start - window / 2)
        inside = range(first, bisect.bisect_right(centres, end + window / 2))
        if not inside:
            continue
        ticks = max(1, round((end - start) / STEP))
        for tick in range(ticks):
            t0 = start + tick * STEP
            t1 = min(end, t0 + STEP)
            nearest = min(inside, key=lambda i: abs(centres[i] - (t0 + t1) / 2))
            label = int(labels[nearest])
            if runs and runs[-1].speaker == label and abs(runs[-1].end - t0) < 1e-6:
                runs[-1] = replace(runs[-1], end=t1)
            else:
                runs.append(Turn(t0, t1, label))
    return _absorb_strays(runs)


def _absorb_strays(runs: list[Turn]) -> list[Turn]:
    changed = True
    while changed and len(runs) > 2:
        changed = False
        for i in range(1, len(runs) - 1):
            before, run, after = runs[i - 1], runs[i], runs[i + 1]
            short = run.end - run.start < MIN_TURN
            if short and before.speaker == after.speaker != run.speaker:
                runs[i - 1 : i + 2] = [Turn(before.start, after.end, before.speaker)]
                changed = True
                break
    return runs


class _TurnIndex:
    """Turns in time order (they do not overlap), searchable by time: an hour has thousands
    of words and of turns, and each word looks only at the turns around it."""

    def __init__(self, turns: Sequence[Turn]) -> None:
        self.turns = list(turns)
        self.starts = [t.start for t in self.turns]
        self.ends = [t.end for t in self.turns]

    def speaker_at(self, start: float, end: float) -> int | None:
        """The speaker of the turn that overlaps [start, end] most, else of the nearest."""
        if not self.turns:
            return None
        first = max(0, bisect.bisect_left(self.ends, start) - 1)
        last = min(len(self.turns), bisect.bisect_right(self.starts, end) + 1)
        nearby = self.turns[first:last] or self.turns[-1:]
        overlaps = [(min(end, t.end) - max(start, t.start), t.speaker) for t in nearby]
        best, speaker = max(overlaps)
        if best > 0:
            return speaker
        middle = (start + end) / 2
        nearest = min(nearby, key=lambda t: min(abs(t.start - middle), abs(t.end - middle)))
        return nearest.speaker

    def within(self, speaker: int, start: float, end: float) -> tuple[float, float]:
        """[start, end] kept out of other speakers' turns before and after ``speaker``'s
        (the ASR's times are rougher than the turns, and one speaker's words do not reach
        into another's turn). Pauses stay: the turns come from VAD, which cuts them closer
        than speech ends. Unchanged where none of ``speaker``'s turns overlaps it."""
        first = max(0, bisect.bisect_left(self.ends, start) - 1)
        last = min(len(self.turns), bisect.bisect_right(self.starts, end) + 1)
        nearby = [t for t in self.turns[first:last] if min(end, t.end) > max(start, t.start)]
        own = [t for t in nearby if t.speaker == speaker]
        if not own:
            return start, end
        for turn in nearby:
            if turn.speaker != speaker and turn.end <= own[0].start:
                start = max(start, turn.end)
            elif turn.speaker != speaker and turn.start >= own[-1].end:
                end = min(end, turn.start)
        return start, end


def assign_speakers(
    segments: Sequence[Segment], turns: Sequence[Turn], names: dict[int, str] | None = None
) -> list[Segment]:
    """Segments (renumbered) with a speaker each, and on each of their words; ``names``
    gives speakers their names (SPEAKER_00, … by default)."""
    names = names or {}
    index = _TurnIndex(turns)

    def _name(speaker: int | None) -> str | None:
        return None if speaker is None else names.get(speaker) or speaker_name(speaker)

    result: list[Segment] = []
    for segment in segments:
        if not segment.words:
            speaker = index.speaker_at(segment.start, segment.end)
            start, end = _narrowed(index, speaker, segment.start, segment.end)
            result.append(replace(segment, start=start, end=end, speaker=_name(speaker)))
            continue
        speakers = [index.speaker_at(w.start, w.end) for w in segment.words]
        words = [
            _word_of(w, _name(who), _narrowed(index, who, w.start, w.end))
            for w, who in zip(segment.words, speakers, strict=True)
        ]
        groups = _runs_of_speaker(words)
        first = 0  # of the group, in words
        for group in groups:
            whole = len(groups) == 1  # the segment's own times, where it is not split
            start, end = (segment.start, segment.end) if whole else (group[0].start, group[-1].end)
            start, end = _narrowed(index, speakers[first], start, end)
            first += len(group)
            result.append(
                replace(
                    segment,
                    start=start,
                    end=end,
                    text="".join(w.word for w in group),
                    words=group,
                    speaker=group[0].speaker,
                )
            )
    return [replace(s, id=i) for i, s in enumerate(result)]


def _narrowed(
    index: _TurnIndex, speaker: int | None, start: float, end: float
) -> tuple[float, float]:
    return (start, end) if speaker is None else index.within(speaker, start, end)


def _word_of(word: Word, speaker: str | None, span: tuple[float, float]) -> Word:
    return replace(word, speaker=speaker, start=span[0], end=span[1])


def _runs_of_speaker(words: list[Word]) -> list[list[Word]]:
    runs: list[list[Word]] = []
    for word in words:
        if runs and runs[-1][-1].speaker == word.speaker:
            runs[-1].append(word)
        else:
            runs.append([word])
    return runs if len(runs) > 1 else [words]
