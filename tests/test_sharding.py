"""Long recordings in shards: cuts at pauses, ranges decoded alone, one stitched transcript."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from pathlib import Path

import numpy as np
import pytest

from audiotext import audio, sharding
from audiotext.config import Settings
from audiotext.db.migrate import upgrade
from audiotext.db.repository import JobRepository
from audiotext.engine import Engine, TranscribeOptions
from audiotext.engine.base import Segment, Transcript, Word
from audiotext.engine.hallucination import normalized
from audiotext.jobs.outcomes import Outcome
from audiotext.jobs.states import JobStatus
from audiotext.kube import constants as k
from audiotext.operator.status import Observation
from audiotext.operator.stitching import record_shards
from audiotext.pipeline import transcribe_file
from audiotext.services.admission import JobRequest
from audiotext.wiring import open_services
from audiotext.worker.shard import run_shard

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


@pytest.mark.slow
async def test_each_pod_transcribes_its_shard_and_the_operator_stitches_them_once(
    tmp_path: Path, two_minutes: Path
) -> None:
    """A sharded job as its Indexed Job runs it, without the cluster: each index's worker
    alone (in any order; one of them twice, as a killed pod's rerun), then the operator's
    record of the Job's success, twice (kopf may replay it)."""
    settings = make_settings(tmp_path, shard_seconds=30)
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    services = open_services(settings, "worker")
    jobs = services.jobs
    try:
        # The job as the gateway records it: its audio stored, its duration probed.
        key = "uploads/long.flac"
        await services.storage.put_file(key, two_minutes, "audio/flac")
        request = JobRequest(filename="long.flac")
        job = await jobs.register(str(uuid.uuid4()), request, services.storage.url_for(key))
        duration = audio.probe(two_minutes).duration
        await JobRepository(services.db).update_fields(job.id, audio_duration_seconds=duration)
        row = await jobs.row(job.id)
        count = sharding.jobs_shards(row.options, row.audio_duration_seconds, 30)
        assert count == sharding.shard_count(duration or 0, 30) >= 4
        progress = []
        for index in [count - 1, *range(count - 1), 0]:
            outcome = await run_shard(job.id, jobs, services.engines, index, count)
            assert outcome is Outcome.COMPLETED
            progress.append((await jobs.row(job.id)).progress)
        assert progress == sorted(progress) and 0 < progress[-1] < 100  # never back
        assert (await jobs.row(job.id)).status == JobStatus.PROCESSING  # until stitched
        done = {"total": count, "succeeded": count, "running": 0, "failed": 0}
        succeeded = Observation(k.PHASE_SUCCEEDED, "Completed", "transcribed", 1, shards=done)
        for _ in range(2):
            stitched = await record_shards(jobs, await jobs.row(job.id), succeeded)
            assert stitched is not None and stitched.status == JobStatus.COMPLETED
        transcript = await jobs.transcript(job.id)
        assert await jobs.shards.stored(job.id, count) == []  # the parts are gone
    finally:
        await services.close()
    said = [normalized(w) for w in " ".join(LINES * 4).split()]
    ours = [normalized(w.word) for s in transcript.segments for w in s.words]
    assert wer(" ".join(said), " ".join(ours)) <= 0.1, " ".join(ours)
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    assert [s.id for s in transcript.segments] == list(range(len(starts)))


def test_the_shard_count_is_known_from_the_duration_alone() -> None:
    for duration in (31.0, 95.0, 125.0, 600.5, 7200.0):
        for seconds in (30.0, 45.0, 600.0):
            boundaries = sharding.nominal_boundaries(duration, seconds)
            reach = sharding.search_reach(duration, seconds)
            # Each cut moves at most its reach: the cuts stay in order, one per boundary.
            assert all(b - a > 2 * reach for a, b in itertools.pairwise(boundaries))
            assert sharding.shard_count(duration, seconds) == len(boundaries) + 1
    options = {"sharding": {"shard_seconds": 30}}
    assert sharding.jobs_shards(options, 125.0, 600) == 4
    assert sharding.jobs_shards(options, None, 600) == 1  # not probed: one pod
    assert sharding.jobs_shards({**options, "diarize": True}, 125.0, 600) == 4
    assert sharding.jobs_shards({}, 125.0, 600) == 1
