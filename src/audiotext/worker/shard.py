"""One pod of a sharded job: index ``i`` of the Indexed Job transcribes shard ``i`` alone and
leaves its transcript in storage (diarized, with its speakers' voices, when the job diarizes);
the operator stitches them once every index has succeeded.

Every pod plans the same shards: their number follows from the recording's duration (the
operator sized the Job with it), and each cut is found from the audio around its own nominal
place. Progress is each pod's view (the shards stored, plus its own), written only where it
raises the row's, so it never goes back.
"""

from __future__ import annotations

import asyncio

from audiotext import audio, sharding
from audiotext.db.models import TranscriptionJobRow
from audiotext.diarization import DiarizeOptions
from audiotext.engine import EngineRegistry
from audiotext.engine.hallucination import checked
from audiotext.jobs.errors import AudioTextError, InvalidAudio
from audiotext.jobs.outcomes import Outcome
from audiotext.pipeline import (
    diarized,
    guarded,
    known_voices,
    options_for,
    shards_of,
    transcript_of,
)
from audiotext.services.jobs import JobService
from audiotext.sharding import shard_seconds_of


async def run_shard(
    job_id: str, jobs: JobService, engines: EngineRegistry, index: int, count: int
) -> Outcome:
    row = await jobs.join(job_id)
    if row is None:
        return Outcome.SKIPPED
    duration = row.audio_duration_seconds or 0.0
    shard_seconds = shard_seconds_of(row.options, jobs.settings.shard_seconds)
    where = f"{sharding.nominal_shard(index, duration, shard_seconds).describe()}: "
    if duration <= 0 or sharding.shard_count(duration, shard_seconds) != count:
        where = f"shard {index}: "
    return await guarded(jobs, job_id, _transcribe_shard(jobs, engines, row, index, count), where)


async def _transcribe_shard(
    jobs: JobService, engines: EngineRegistry, row: TranscriptionJobRow, index: int, count: int
) -> Outcome:
    settings = jobs.settings
    engine = engines.get(row.engine)
    options = options_for(row, vad_filter=settings.vad_filter, beam_size=settings.beam_size)
    shard_seconds = shard_seconds_of(row.options, settings.shard_seconds)
    known = await known_voices(jobs, row)
    async with jobs.local_audio(row.url) as path:
        duration = (await asyncio.to_thread(audio.probe, path)).duration
        if duration is None:
            raise InvalidAudio("the recording's duration cannot be read")
        shards = await asyncio.to_thread(shards_of, path, duration, shard_seconds)
        if len(shards) != count:
            raise AudioTextError(
                f"the recording makes {len(shards)} shards, not the {count} of its Job"
            )
        shard = shards[index]
        samples = await asyncio.to_thread(audio.decode_range, path, shard.start, shard.end)
    segments, info = await asyncio.to_thread(engine.transcribe, samples, options)
    stored = await jobs.shards.stored(row.id, count)
    done = sum(shards[i].seconds for i in stored if i != index)
    collected = []
    iterator = checked(iter(segments))
    while (segment := await asyncio.to_thread(next, iterator, None)) is not None:
        collected.append(segment)
        await jobs.raise_progress(row.id, int(100 * (done + segment.end) / duration))
    part, voices = transcript_of(info, collected, options), None
    if known is not None:
        bounds = DiarizeOptions.of(row.options).within_a_shard()
        found = await diarized(engines, samples, part, known, bounds)
        part, voices = found.transcript, found.voices
    del samples
    await jobs.shards.put(row.id, shard, part, voices)
    return Outcome.COMPLETED
