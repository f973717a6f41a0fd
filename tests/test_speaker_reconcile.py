"""The speakers of a recording's shards, reconciled over the whole file (pure)."""

from __future__ import annotations

from audiotext import sharding
from audiotext.diarization import DiarizeOptions
from audiotext.diarization.reconcile import speaker_names
from audiotext.engine.base import Segment, Speaker, Transcript, Word

# Three voices, far apart, and a little noise on each shard's view of them.
A, B, C = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]


def near(voice: list[float], noise: float) -> list[float]:
    return [x + noise for x in voice]


def test_one_voice_keeps_one_name_across_shards() -> None:
    voices = [
        {"SPEAKER_00": A, "SPEAKER_01": B},
        {"SPEAKER_00": near(C, 0.1), "SPEAKER_01": near(A, 0.1)},  # C first, then A
        {"SPEAKER_00": near(B, 0.05)},
    ]
    assert speaker_names(voices) == [
        {"SPEAKER_00": "SPEAKER_00", "SPEAKER_01": "SPEAKER_01"},
        {"SPEAKER_00": "SPEAKER_02", "SPEAKER_01": "SPEAKER_00"},
        {"SPEAKER_00": "SPEAKER_01"},
    ]


def test_two_speakers_of_one_shard_stay_two_and_the_bounds_hold() -> None:
    # Alike voices in one shard: its own diarization heard them apart.
    alike = [{"SPEAKER_00": A, "SPEAKER_01": near(A, 0.05)}, {"SPEAKER_00": A}]
    names = speaker_names(alike)
    assert names[0] == {"SPEAKER_00": "SPEAKER_00", "SPEAKER_01": "SPEAKER_01"}
    assert names[1] == {"SPEAKER_00": "SPEAKER_00"}
    # Different voices are joined only down to max_speakers, and never below min_speakers.
    three = [{"SPEAKER_00": A}, {"SPEAKER_00": B}, {"SPEAKER_00": C}]
    assert len({n for shard in speaker_names(three) for n in shard.values()}) == 3
    assert len({n for s in speaker_names(three, 1, 2) for n in s.values()}) == 2
    same = [{"SPEAKER_00": A}, {"SPEAKER_00": A}]
    assert len({n for s in speaker_names(same, 2, 2) for n in s.values()}) == 2


def test_a_known_voice_keeps_its_name_and_names_its_voice_elsewhere() -> None:
    voices = [
        {"alice": A, "SPEAKER_01": B},
        {"SPEAKER_00": A, "bob": near(B, 0.1)},
        {"carol": near(A, 0.1)},  # named otherwise: not joined to alice, however alike
    ]
    assert speaker_names(voices) == [
        {"alice": "alice", "SPEAKER_01": "bob"},
        {"SPEAKER_00": "alice", "bob": "bob"},
        {"carol": "carol"},
    ]


def test_the_stitch_renames_every_word_and_sums_the_speaking_time() -> None:
    def part(speaker: str, seconds: float) -> Transcript:
        word = Word(0.0, 1.0, " hi", 0.9, speaker)
        segment = Segment(0, 0.0, 1.0, " hi", words=[word], speaker=speaker)
        return Transcript("en", 30.0, [segment], speakers=[Speaker(speaker, seconds)])

    shards = sharding.plan(60.0, [30.0])
    parts = [part("SPEAKER_00", 10.0), part("SPEAKER_00", 4.0)]
    voices = [{"SPEAKER_00": A}, {"SPEAKER_00": near(A, 0.05)}]
    stitched = sharding.stitch(shards, parts, 60.0, voices, DiarizeOptions())
    assert stitched.speakers == [Speaker("SPEAKER_00", 14.0)]
    apart = sharding.stitch(shards, parts, 60.0, [{"SPEAKER_00": A}, {"SPEAKER_00": B}])
    assert apart.speakers == [Speaker("SPEAKER_00", 10.0), Speaker("SPEAKER_01", 4.0)]
    second = apart.segments[1]
    assert second.speaker == "SPEAKER_01" and second.words[0].speaker == "SPEAKER_01"
    assert second.start == 30.0 and second.id == 1
    assert sharding.stitch(shards, [part("x", 1), part("y", 1)], 60.0).speakers is not None
