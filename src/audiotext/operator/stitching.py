"""A sharded job's end: once every index of its Indexed Job has succeeded, the shards'
transcripts are stitched into the job's one transcript (one voice one speaker over the whole
recording, when it was diarized), stored, and the job completed (the
guarded move to completed makes it happen once, however often the Job's event comes)."""

from __future__ import annotations

from audiotext import sharding
from audiotext.db.models import TranscriptionJobRow, utcnow
from audiotext.diarization import DiarizeOptions
from audiotext.jobs.choices import requested_formats
from audiotext.jobs.errors import InvalidTransition, JobNotFound, ObjectNotFound
from audiotext.jobs.states import JobStatus
from audiotext.kube import constants as k
from audiotext.operator.status import Observation
from audiotext.services.jobs import JobService


async def stitch(jobs: JobService, row: TranscriptionJobRow, count: int) -> None:
    stored = await jobs.shards.parts(row.id, count)
    duration = row.audio_duration_seconds or stored.shards[-1].end
    speakers = DiarizeOptions.of(row.options or {})
    voices = stored.diarized_voices()
    transcript = sharding.stitch(stored.shards, stored.parts, duration, voices, speakers)
    await jobs.store_transcript(row.id, transcript, requested_formats(row.options))
    started = row.started_at  # aware UTC on every database (db.models.UTCDateTime)
    elapsed = (utcnow() - started).total_seconds() if started else 0.0
    await jobs.complete(row.id, transcript, elapsed)
    await jobs.shards.remove(row.id, count)  # also when the row had no counts yet


async def record_shards(
    jobs: JobService, row: TranscriptionJobRow, observed: Observation
) -> TranscriptionJobRow | None:
    """What an Indexed Job's event means for its row: the shards' counts while it runs, the
    stitched transcript once it succeeded, the shards' transcripts removed once it failed.
    Returns the row as it is now."""
    shards = observed.shards or {}
    count = int(shards.get("total") or 1)
    try:
        if row.status == JobStatus.PROCESSING and observed.phase == k.PHASE_SUCCEEDED:
            if row.shards != shards:
                await jobs.report_progress(row.id, row.progress, shards=shards)  # all in
            try:
                await stitch(jobs, row, count)
            except ObjectNotFound as exc:
                await jobs.fail_unfinished(row.id, f"a shard's transcript is missing: {exc}")
        elif observed.final:
            await jobs.shards.remove(row.id, count)
        elif row.status == JobStatus.PROCESSING and row.shards != shards:
            await jobs.report_progress(row.id, row.progress, shards=shards)
    except (InvalidTransition, JobNotFound):
        pass  # cancelled, or stitched already, meanwhile
    return await jobs.find(row.id)


def failed_shards_message(row: TranscriptionJobRow, observed: Observation, default: float) -> str:
    """A failed Indexed Job's message, naming its failed shards and their time ranges."""
    duration = row.audio_duration_seconds or 0.0
    seconds = sharding.shard_seconds_of(row.options, default)
    if not observed.failed_shards or sharding.jobs_shards(row.options, duration, default) <= 1:
        return observed.message
    named = "; ".join(
        sharding.nominal_shard(i, duration, seconds).describe() for i in observed.failed_shards
    )
    return f"{named} failed: {observed.cause}"
