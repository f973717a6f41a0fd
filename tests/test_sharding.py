"""Long recordings in shards: cuts at pauses, ranges decoded alone, one stitched transcript."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from audiotext import audio, sharding
from audiotext.config import Settings
from audiotext.engine import Engine, TranscribeOptions
from audiotext.engine.base import Segment, Transcript, Word
from audiotext.engine.hallucination import normalized
from audiotext.pipeline import transcribe_file

from helpers import LINES, final, make_settings, running_app, wait_for
from wer import wer


def test_nominal_boundaries_and_plan() -> None:
    assert sharding.nominal_boundaries(100, 0) == []
    assert sharding.nominal_boundaries(100, 600) == []
    assert sharding.nominal_boundaries(125, 30) == [31.25, 62.5, 93.75]
    assert sharding.nominal_boundaries(70, 30) == [35.0]  # no 10 s shard at the end
    shards = sharding.plan(100, [40.5, 70.0])
    assert [(s.index, s.start, s.end) for s in shards] == [
        (0, 0, 40.5),
        (1, 40.5, 70),
        (2, 70, 100),
    ]
    assert shards[1].describe() == "shard 1 (40.5 to 70.0 s)"


def test_cut_falls_in_the_pause_nearest_the_boundary() -> None:
    speech = [(20.5, 28.0), (28.6, 29.9), (31.0, 38.0)]
    assert sharding.quietest_cut(30.0, speech, 10) == pytest.approx(30.45)
    assert sharding.quietest_cut(30.0, [(20.0, 40.0)], 10) == 30.0  # no pause: the nominal cut
    assert sharding.quietest_cut(30.0, [], 10) == 30.0
    assert sharding.quietest_cut(30.0, [(25.0, 35.0)], 3) == 30.0  # pauses out of reach


def test_stitch_shifts_numbers_and_sums_languages() -> None:
    def part(text: str, language: str) -> Transcript:
        words = [Word(1.0, 1.5, f" {text}", 0.9)]
        return Transcript(language, 30.0, [Segment(0, 1.0, 2.0, f" {text}", words=words)])

    shards = sharding.plan(60.0, [30.0])
    whole = sharding.stitch(shards, [part("one", "de"), part("two", "fr")], 60.0)
    assert [(s.id, s.start, s.end, s.text) for s in whole.segments] == [
        (0, 1.0, 2.0, " one"),
        (1, 31.0, 32.0, " two"),
    ]
    assert whole.segments[1].words[0].start == 31.0
    assert whole.duration == 60.0
    assert {share.language for share in whole.languages or []} == {"de", "fr"}
    english = sharding.stitch(shards, [part("one", "en"), part("two", "en")], 60.0)
    assert english.language == "en" and english.languages is None


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg", "m4a", "webm"])
def test_a_range_decodes_alone_as_the_same_samples(audio_dir: Path, fmt: str) -> None:
    path = audio_dir / f"speech.{fmt}"
    whole = audio.decode_range(path, 0, 60)
    part = audio.decode_range(path, 1.0, 2.5)
    assert len(part) == 24_000
    # Where the range sits in the whole: within 2 ms (WebM's clock counts milliseconds), and
    # lossy codecs decode a seek's first frame a little differently, so compared loosely.
    errors = {o: np.abs(whole[16_000 + o : 40_000 + o] - part).mean() for o in range(-32, 33)}
    offset = min(errors, key=lambda o: errors[o])
    assert errors[offset] < 0.01, (offset, errors[offset])
    assert abs(len(whole) - len(audio.decode(path))) <= 160
    assert len(audio.decode_range(path, 50, 60)) == 0


@pytest.fixture(scope="module")
def two_minutes(tmp_path_factory: pytest.TempPathFactory, long_speech: Path) -> Path:
    """About two minutes of varied sentences with pauses (four times over, far apart enough
    that no 30 s window repeats itself, which would send the decoder into fallbacks)."""
    target = tmp_path_factory.mktemp("long") / "two-minutes.flac"
    subprocess.run(["sox", str(long_speech), str(target), "repeat", "1"], check=True)
    return target


@pytest.mark.slow
async def test_a_long_recording_in_shards_reads_as_one(
    tmp_path: Path, two_minutes: Path, engine: Engine
) -> None:
    settings = make_settings(tmp_path, shard_seconds=30)
    async with running_app(settings) as (_, client):
        files = {"file": ("long.flac", two_minutes.read_bytes(), "audio/flac")}
        job = (await client.post("/api/v1/job/transcribe", files=files)).json()
        done = await wait_for(client, job["id"], final, timeout=300)
        assert done["status"] == "completed", done
        shards = done["shards"]
        assert shards["total"] >= 4 and shards["succeeded"] == shards["total"]
        assert shards["running"] == shards["failed"] == 0
        assert done["audio_duration_seconds"] == pytest.approx(audio.probe(two_minutes).duration)
        sharded = (await client.get(f"/api/v1/job/{job['id']}/transcript?format=json")).json()

    # Against what was said (the lines, four times over): every word there once.
    said = [normalized(w) for w in " ".join(LINES * 4).split()]
    ours = [normalized(w["word"]) for s in sharded["segments"] for w in s["words"]]
    assert abs(len(ours) - len(said)) <= 0.02 * len(said), (len(ours), len(said))
    # No word doubled or lost where one shard ends and the next begins: an edit distance
    # (WER) this small leaves no room for a repeated or missing stretch at any of the cuts.
    whole = transcribe_file(engine, two_minutes, TranscribeOptions(model="tiny.en"))
    theirs = [normalized(w.word) for s in whole.segments for w in s.words]
    assert wer(" ".join(theirs), " ".join(ours)) <= 0.05  # windows fall elsewhere: small drift
    assert wer(" ".join(said), " ".join(ours)) <= wer(" ".join(said), " ".join(theirs)) + 0.02
    starts = [s["start"] for s in sharded["segments"]]
    assert (
        starts == sorted(starts)
        and sharded["segments"][-1]["end"] <= done["audio_duration_seconds"] + 0.5
    )
    assert [s["id"] for s in sharded["segments"]] == list(range(len(starts)))


async def test_shard_sizes_are_checked_at_the_door(settings: Settings, jfk: Path) -> None:
    async with running_app(settings) as (_, client):
        for fields in ({"shard_seconds": "10"}, {"max_parallel": "0"}, {"shard_seconds": "-1"}):
            files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
            answer = await client.post("/api/v1/job/transcribe", files=files, data=fields)
            assert answer.status_code == 422, (fields, answer.text)
            assert next(iter(fields)) in answer.json()["detail"]
        assert (await client.get("/api/v1/job/read")).json()["total"] == 0
    with pytest.raises(ValueError, match="shard_seconds"):
        Settings(shard_seconds=10)
