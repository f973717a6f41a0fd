"""Diarization's pure steps and the weights loader: no model runs here."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from audiotext.diarization import check_speaker_counts
from audiotext.diarization.clustering import cluster
from audiotext.diarization.encoder import HOP, mel_filterbank, mel_spectrogram
from audiotext.diarization.turns import Turn, assign_speakers, speaker_turns, window_starts
from audiotext.diarization.weights import LEGACY_MAGIC, read_state
from audiotext.engine.base import Segment, Speaker, Transcript, Word
from audiotext.formats import render
from audiotext.jobs.errors import InvalidParameter


class _RunsACommand:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("touch /tmp/audiotext-unpickled-a-command",))


def test_a_checkpoint_with_anything_but_tensor_data_is_refused(tmp_path: Path) -> None:
    """A pickle is code: a global other than tensor data is refused, never imported or run."""
    marker = Path("/tmp/audiotext-unpickled-a-command")
    marker.unlink(missing_ok=True)
    stream = io.BytesIO()
    for header in (LEGACY_MAGIC, 1001, {"little_endian": True}):
        pickle.dump(header, stream, protocol=2)
    pickle.dump({"model_state": _RunsACommand()}, stream, protocol=2)
    path = tmp_path / "evil.pt"
    path.write_bytes(stream.getvalue())
    with pytest.raises(pickle.UnpicklingError, match="not tensor data"):
        read_state(path)
    assert not marker.exists()


def test_a_file_that_is_no_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    path.write_bytes(pickle.dumps("hello", protocol=2))
    with pytest.raises(InvalidParameter, match="not a PyTorch checkpoint"):
        read_state(path)


def test_the_mel_filters_are_slaney_triangles_in_order() -> None:
    filters = mel_filterbank()
    assert filters.shape == (40, 201)
    assert (filters >= 0).all() and (filters.max(axis=1) > 0).all()
    peaks = filters.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all(), "each filter sits above the one before"
    # A 1 kHz tone puts most of its energy in the band around 1 kHz.
    t = np.arange(16_000) / 16_000
    mel = mel_spectrogram((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    assert mel.shape == (1 + 16_000 // HOP, 40)
    band = int(mel.mean(axis=0).argmax())
    assert abs(peaks[band] * 16_000 / 400 - 1000) < 100


def three_voices(per_voice: int = 12) -> np.ndarray:
    rng = np.random.default_rng(7)
    centres = np.eye(3, 16, dtype=np.float32)
    rows = [centres[v] + 0.1 * rng.standard_normal(16) for v in (1, 0, 2) for _ in range(per_voice)]
    vectors = np.array(rows, np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_clustering_finds_the_voices_numbered_by_first_appearance() -> None:
    labels = cluster(three_voices())
    assert labels.tolist() == [0] * 12 + [1] * 12 + [2] * 12
    assert cluster(three_voices()).tolist() == labels.tolist(), "the same labels every run"


def test_someone_who_speaks_little_in_a_voice_like_another_s_is_kept() -> None:
    """A small group near a larger one is dissolved when its chunks come one at a time (they
    straddle changes of speaker), not when they come in a row (someone spoke for a while)."""
    rng = np.random.default_rng(3)
    a, b = np.eye(2, 16, dtype=np.float32)
    like_a = 0.78 * a + 0.626 * np.eye(3, 16, dtype=np.float32)[2]  # cosine 0.78 to a

    def windows(voice: np.ndarray, count: int) -> list[np.ndarray]:
        return [voice + 0.02 * rng.standard_normal(16).astype(np.float32) for _ in range(count)]

    rows = windows(a, 30) + windows(b, 24) + windows(like_a, 6)  # 10, 8 and 2 chunks
    vectors = np.array(rows, np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = cluster(vectors).tolist()
    assert labels == [0] * 30 + [1] * 24 + [2] * 6


def test_the_speaker_count_stays_within_its_bounds() -> None:
    assert len(set(cluster(three_voices(), max_speakers=2).tolist())) == 2
    assert len(set(cluster(three_voices(), min_speakers=4).tolist())) == 4
    assert cluster(np.zeros((0, 16), np.float32)).tolist() == []


@pytest.mark.parametrize(
    ("low", "high", "message"),
    [(0, None, "min_speakers"), (None, 21, "max_speakers"), (3, 2, "not be larger")],
)
def test_bad_speaker_counts_are_refused(low: int | None, high: int | None, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        check_speaker_counts(low, high)


def test_windows_cover_every_region_and_short_ones_get_one() -> None:
    starts = window_starts([(0.0, 4.0), (10.0, 10.5)], window=1.6, step=0.5, duration=12.0)
    assert starts[0] == 0.0 and starts[-2] == pytest.approx(2.4)
    assert starts[-1] == pytest.approx(10.25 - 0.8)


def test_turns_follow_the_nearest_window_and_absorb_strays() -> None:
    starts = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    labels = [0, 0, 0, 1, 0, 1, 1]  # the 0 at 2.0 is one stray window inside speaker 1
    turns = speaker_turns([(0.0, 4.6)], starts, labels, window=1.6)
    assert [t.speaker for t in turns] == [0, 1]
    assert turns[0].start == 0.0 and turns[-1].end == pytest.approx(4.6)


def word(start: float, end: float, text: str) -> Word:
    return Word(start, end, text, 0.9)


def test_a_segment_that_spans_a_change_of_speaker_is_split_at_its_word() -> None:
    words = [word(0.0, 0.5, " Hello"), word(0.6, 1.0, " there."), word(1.2, 1.8, " Hi!")]
    segment = Segment(0, 0.0, 1.8, " Hello there. Hi!", words)
    turns = [Turn(0.0, 1.1, 0), Turn(1.1, 2.0, 1)]
    first, second = assign_speakers([segment], turns)
    assert (first.id, first.text, first.speaker, first.end) == (
        0,
        " Hello there.",
        "SPEAKER_00",
        1.0,
    )
    assert (second.id, second.text, second.speaker, second.start) == (1, " Hi!", "SPEAKER_01", 1.2)
    assert {w.speaker for w in second.words} == {"SPEAKER_01"}


def test_one_speaker_s_words_do_not_reach_into_another_s_turn() -> None:
    """The ASR's times are rougher than the turns: a segment that starts in the turn before
    its speaker's starts where that turn ends, and its words too; a pause is kept."""
    words = [word(3.0, 4.2, " Fine,"), word(4.3, 6.5, " thanks.")]
    late = Segment(0, 3.0, 6.5, " Fine, thanks.", words)
    turns = [Turn(0.0, 3.5, 0), Turn(3.5, 5.0, 1), Turn(5.4, 6.0, 1), Turn(6.2, 8.0, 0)]
    (segment,) = assign_speakers([late], turns)
    assert segment.speaker == "SPEAKER_01"
    assert (segment.start, segment.end) == (3.5, 6.2)
    assert [(w.start, w.end) for w in segment.words] == [(3.5, 4.2), (4.3, 6.2)]
    # No turn of its own speaker under it: left as the ASR said.
    (alone,) = assign_speakers([Segment(0, 9.0, 9.5, " Bye.")], turns)
    assert (alone.start, alone.end, alone.speaker) == (9.0, 9.5, "SPEAKER_00")


DIARIZED = Transcript(
    language="en",
    duration=3.0,
    segments=[
        Segment(
            0, 0.0, 1.0, " Hello there.", [word(0.0, 1.0, " Hello there.")], speaker="SPEAKER_00"
        ),
        Segment(1, 1.0, 1.5, " How are you?", speaker="SPEAKER_00"),
        Segment(2, 1.6, 3.0, " Fine.", speaker="SPEAKER_01"),
    ],
    speakers=[Speaker("SPEAKER_00", 1.5), Speaker("SPEAKER_01", 1.4)],
)


def test_each_format_says_who_spoke() -> None:
    assert render(DIARIZED, "txt") == ("SPEAKER_00: Hello there. How are you?\nSPEAKER_01: Fine.\n")
    assert "00:00:01,600 --> 00:00:03,000\nSPEAKER_01: Fine." in render(DIARIZED, "srt")
    assert "00:00:01.600 --> 00:00:03.000\n<v SPEAKER_01>Fine." in render(DIARIZED, "vtt")
    assert render(DIARIZED, "rttm").splitlines() == [
        "SPEAKER audio 1 0.000 1.500 <NA> <NA> SPEAKER_00 <NA> <NA>",
        "SPEAKER audio 1 1.600 1.400 <NA> <NA> SPEAKER_01 <NA> <NA>",
    ]


def test_the_json_transcript_keeps_the_speakers_and_only_diarized_ones_have_them() -> None:
    data = DIARIZED.to_dict()
    assert data["speakers"] == [
        {"id": "SPEAKER_00", "seconds": 1.5},
        {"id": "SPEAKER_01", "seconds": 1.4},
    ]
    assert data["segments"][0]["speaker"] == "SPEAKER_00"
    assert "speaker" not in data["segments"][0]["words"][0], "that word had none"
    assert Transcript.from_dict(data) == DIARIZED
    plain = Transcript("en", 1.0, [Segment(0, 0.0, 1.0, " Hi.", [word(0.0, 1.0, " Hi.")])])
    assert "speakers" not in plain.to_dict() and "speaker" not in plain.to_dict()["segments"][0]
    assert render(plain, "rttm") == ""
