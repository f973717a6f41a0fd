"""decode → transcribe → write artifacts → publish progress.

Shared by the local executor and the worker Job, so neither imports the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiotext import audio, sharding
from audiotext.db.models import TranscriptionJobRow
from audiotext.diarization import DiarizeOptions
from audiotext.engine import (
    Engine,
    EngineRegistry,
    Segment,
    TranscribeOptions,
    Transcript,
)
from audiotext.engine.base import TranscriptInfo, shifted
from audiotext.engine.hallucination import checked
from audiotext.engine.vad import speech_regions
from audiotext.jobs.choices import requested_formats, task_of
from audiotext.jobs.errors import (
    AudioTextError,
    BackendUnavailable,
    InvalidAudio,
    InvalidParameter,
    InvalidTransition,
    JobNotFound,
    ModelNotFound,
    ObjectNotFound,
    UnsupportedAudio,
)
from audiotext.jobs.outcomes import Outcome
from audiotext.jobs.schemas import JobPublic
from audiotext.services.jobs import JobService
from audiotext.sharding import Shard, shard_seconds_of

if TYPE_CHECKING:
    from audiotext.diarization.diarizer import Diarization, Diarizer
    from audiotext.diarization.reconcile import Voices
    from audiotext.engine.base import Audio

log = logging.getLogger(__name__)
# About a window's worth of text (some 90 tokens): how much of a shard primes the next.
LEAD_IN_CHARS = 400

ProgressCallback = Callable[[int, Segment], None]


def options_for(row: TranscriptionJobRow, *, vad_filter: bool, beam_size: int) -> TranscribeOptions:
    """The decoder's options for a job: what it asked for (jobs.decoding), else the server's
    ``vad_filter`` and ``beam_size``."""
    opts: dict[str, Any] = row.options or {}
    # Diarization gives each word its speaker: it needs the words' times.
    words = opts.get("word_timestamps", True) or opts.get("diarize")
    return TranscribeOptions(
        model=row.model,
        language=row.language,
        task=task_of(row.task),
        prompt=opts.get("prompt"),
        temperature=opts.get("temperature"),
        word_timestamps=bool(words),
        vad_filter=bool(opts.get("vad_filter", vad_filter)),
        beam_size=int(opts.get("beam_size", beam_size)),
        hotwords=opts.get("hotwords"),
        vad_parameters=opts.get("vad_parameters"),
        early_text=bool(opts.get("stream")),
    )


def progress_of(segment: Segment, duration: float) -> int:
    if duration <= 0:
        return 0
    return max(0, min(99, int(segment.end / duration * 100)))


def transcribe_audio(
    engine: Engine,
    samples: Audio,
    options: TranscribeOptions,
    on_progress: ProgressCallback | None = None,
) -> Transcript:
    """Blocking: run the engine over decoded audio, reporting progress per segment."""
    segments, info = engine.transcribe(samples, options)
    collected = []
    for segment in checked(segments):
        collected.append(segment)
        if on_progress is not None:
            on_progress(progress_of(segment, info.duration), segment)
    return transcript_of(info, collected, options)


def transcript_of(
    info: TranscriptInfo, segments: list[Segment], options: TranscribeOptions
) -> Transcript:
    """The transcript of what the engine decoded and said about it."""
    return Transcript(
        language=info.language,
        duration=info.duration,
        segments=segments,
        task=options.task,
        languages=info.languages,
    )


def transcribe_file(
    engine: Engine,
    path: Path,
    options: TranscribeOptions,
    on_progress: ProgressCallback | None = None,
    *,
    diarizer: Diarizer | None = None,
    speakers: DiarizeOptions | None = None,
    shard_seconds: float = 0.0,
) -> Transcript:
    """Blocking: probe, decode and transcribe one local file (the CLI's path); with a
    ``diarizer``, say who spoke too. A file longer than ``shard_seconds`` is transcribed (and
    diarized) a shard at a time, as jobs are."""
    duration = audio.probe(path).duration
    bounds = speakers or DiarizeOptions()
    if duration is not None and sharding.wanted(duration, shard_seconds):
        shards = shards_of(path, duration, shard_seconds)
        parts: list[Transcript] = []
        voices: list[Voices] = []
        for shard in shards:
            samples = audio.decode_range(path, shard.start, shard.end)
            part = transcribe_audio(engine, samples, options)
            if diarizer is not None:
                found = diarizer.diarization(samples, part, bounds.within_a_shard())
                part = found.transcript
                voices.append(found.voices)
            parts.append(part)
            if on_progress is not None and part.segments:
                end = shift_seconds(part.segments[-1], shard.start)
                on_progress(progress_of(end, duration), end)
        return sharding.stitch(shards, parts, duration, voices if diarizer else None, bounds)
    whole = audio.decode(path)
    transcript = transcribe_audio(engine, whole, options, on_progress)
    if diarizer is None:
        return transcript
    return diarizer.diarize(whole, transcript, bounds)


def shards_of(path: Path, duration: float, shard_seconds: float) -> list[Shard]:
    """Blocking: the shards of a long recording, cut at the pauses nearest their edges."""
    cuts = sharding.cut_points(
        path,
        duration,
        shard_seconds,
        audio.decode_range,
        lambda window: speech_regions(window, sharding.CUT_SILENCE_MS, pad_ms=0),
    )
    return sharding.plan(duration, cuts)


def shift_seconds(segment: Segment, seconds: float) -> Segment:
    return shifted(segment, seconds, 0) if seconds else segment


async def run_job(
    job_id: str, jobs: JobService, engines: EngineRegistry, *, claimed: bool = False
) -> Outcome:
    """Run one job from pending to a final state (or back to pending on transient trouble)."""
    if claimed:
        row: TranscriptionJobRow | None = await jobs.row(job_id)
    else:
        row = await jobs.start(job_id)
    if row is None:
        return Outcome.SKIPPED
    return await guarded(jobs, job_id, _run(jobs, engines, row, time.monotonic()))


async def _run(
    jobs: JobService, engines: EngineRegistry, row: TranscriptionJobRow, started: float
) -> Outcome:
    job_id, settings = row.id, jobs.settings
    engine = engines.get(row.engine)
    options = options_for(row, vad_filter=settings.vad_filter, beam_size=settings.beam_size)
    known = await known_voices(jobs, row)
    shard_seconds = shard_seconds_of(row.options, settings.shard_seconds)
    async with jobs.local_audio(row.url) as path:
        duration = (await asyncio.to_thread(audio.probe, path)).duration
        if duration is not None and sharding.wanted(duration, shard_seconds):
            transcript = await _transcribe_shards(
                jobs, engines, row, path, (duration, shard_seconds), options, known
            )
        else:
            samples = await asyncio.to_thread(audio.decode, path)
            transcript = await _transcribe_reporting(jobs, job_id, engine, samples, options)
            if known is not None:
                bounds = DiarizeOptions.of(row.options)
                found = await diarized(engines, samples, transcript, known, bounds)
                transcript = found.transcript
    await jobs.store_transcript(job_id, transcript, requested_formats(row.options))
    await jobs.complete(job_id, transcript, time.monotonic() - started)
    return Outcome.COMPLETED


async def guarded(
    jobs: JobService, job_id: str, run: Awaitable[Outcome], where: str = ""
) -> Outcome:
    """A run's outcome: what goes wrong fails the job (its message starting with ``where``,
    as "shard 3 (1800.0 to 2400.0 s): "), except a backend that is away (try again) and a
    job cancelled or deleted meanwhile (nothing to do). A heartbeat runs alongside."""
    started = time.monotonic()
    heartbeat = asyncio.create_task(_heartbeat(jobs, job_id, jobs.settings.heartbeat_seconds))
    try:
        return await run
    except (InvalidTransition, JobNotFound):
        return Outcome.SKIPPED  # cancelled (or deleted) while running
    except (InvalidAudio, UnsupportedAudio, InvalidParameter, ModelNotFound, ObjectNotFound) as exc:
        await _fail_quietly(jobs, job_id, where + exc.message, time.monotonic() - started)
        return Outcome.BAD_INPUT
    except BackendUnavailable as exc:
        log.warning("job %s interrupted: %s", job_id, exc.message)
        return Outcome.TRANSIENT
    except AudioTextError as exc:
        await _fail_quietly(jobs, job_id, where + exc.message, time.monotonic() - started)
        return Outcome.FAILED
    except Exception as exc:
        log.exception("job %s failed", job_id)
        message = f"{where}{type(exc).__name__}: {exc}"
        await _fail_quietly(jobs, job_id, message, time.monotonic() - started)
        return Outcome.FAILED
    finally:
        heartbeat.cancel()


async def known_voices(
    jobs: JobService, row: TranscriptionJobRow
) -> list[tuple[str, Audio]] | None:
    """The clips of the speakers a job that diarizes names (None: it does not diarize)."""
    if not (row.options or {}).get("diarize"):
        return None
    known = []
    for speaker in row.options.get("known_speakers") or []:
        async with jobs.local_audio(speaker["url"]) as path:
            known.append((str(speaker["name"]), await asyncio.to_thread(audio.decode, path)))
    return known


async def diarized(
    engines: EngineRegistry,
    samples: Audio,
    part: Transcript,
    known: list[tuple[str, Audio]],
    bounds: DiarizeOptions,
) -> Diarization:
    """Who spoke, in a worker thread, with their voices: by those a sharded recording's
    speakers are reconciled when its shards are stitched."""
    diarizer = engines.speakers.get()
    return await asyncio.to_thread(diarizer.diarization, samples, part, bounds, known)


async def _heartbeat(jobs: JobService, job_id: str, every: float) -> None:
    """Tell the reaper this run is alive, even while one long segment is being decoded."""
    while True:
        await asyncio.sleep(every)
        try:
            await jobs.heartbeat(job_id)
        except AudioTextError as exc:
            log.warning("heartbeat of job %s not recorded: %s", job_id, exc.message)


async def _transcribe_reporting(
    jobs: JobService,
    job_id: str,
    engine: Engine,
    samples: Audio,
    options: TranscribeOptions,
) -> Transcript:
    """Transcribe in a worker thread, one segment at a time, publishing progress as it moves."""
    segments, info = await asyncio.to_thread(engine.transcribe, samples, options)
    job = await jobs.report_progress(job_id, 0, language=info.language, duration=info.duration)
    collected, _ = await _reporting(jobs, job, segments, Shard(0, 0.0, info.duration))
    return transcript_of(info, collected, options)


async def _transcribe_shards(
    jobs: JobService,
    engines: EngineRegistry,
    row: TranscriptionJobRow,
    path: Path,
    length: tuple[float, float],
    options: TranscribeOptions,
    known: list[tuple[str, Audio]] | None,
) -> Transcript:
    """A long recording one shard at a time: each decodes only its own range, so memory is
    that of one shard, whatever the recording's length; progress is weighted by duration.
    ``length``: the recording's duration and its shards' (``known``: see ``known_voices``)."""
    duration, shard_seconds = length
    engine = engines.get(row.engine)
    shards = await asyncio.to_thread(shards_of, path, duration, shard_seconds)
    job = await jobs.report_progress(row.id, 0, duration=duration)
    parts: list[Transcript] = []
    voices: list[Voices] = []
    bounds = DiarizeOptions.of(row.options)
    lead_in = None
    for shard in shards:
        counts = {"total": len(shards), "succeeded": shard.index, "running": 1, "failed": 0}
        job = await jobs.report_progress(row.id, job.progress, shards=counts)
        samples = await asyncio.to_thread(audio.decode_range, path, shard.start, shard.end)
        # One shard after another: each hears the end of the one before, as across a window.
        heard = dataclasses.replace(options, lead_in=lead_in)
        segments, info = await asyncio.to_thread(engine.transcribe, samples, heard)
        collected, job = await _reporting(jobs, job, segments, shard, duration)
        part = transcript_of(info, collected, options)
        if known is not None:
            found = await diarized(engines, samples, part, known, bounds.within_a_shard())
            part = found.transcript
            voices.append(found.voices)
        del samples
        parts.append(part)
        lead_in = part.text[-LEAD_IN_CHARS:] or None
    diarized_voices = voices if known is not None else None
    transcript = sharding.stitch(shards, parts, duration, diarized_voices, bounds)
    done = {"total": len(shards), "succeeded": len(shards), "running": 0, "failed": 0}
    await jobs.report_progress(row.id, job.progress, language=transcript.language, shards=done)
    return transcript


async def _reporting(
    jobs: JobService,
    job: JobPublic,
    segments: Iterable[Segment],
    shard: Shard,
    total: float | None = None,
) -> tuple[list[Segment], JobPublic]:
    """The checked segments of one shard (its own times), each published as it is decoded,
    at its place in the whole recording; the row is written only when the progress moves."""
    collected: list[Segment] = []
    iterator: Iterator[Segment] = checked(iter(segments))
    whole = total or shard.seconds
    while True:
        segment = await asyncio.to_thread(next, iterator, None)
        if segment is None:
            break
        collected.append(segment)
        placed = shift_seconds(segment, shard.start)
        progress = progress_of(placed, whole)
        if progress > job.progress:
            job = await jobs.report_progress(job.id, progress, segment=placed)
        else:
            await jobs.publish_segment(job, placed)
    return collected, job


async def _fail_quietly(jobs: JobService, job_id: str, message: str, elapsed: float) -> None:
    with contextlib.suppress(InvalidTransition, JobNotFound):
        await jobs.fail(job_id, message, elapsed)
