"""``stream=true``: a job's text as Server-Sent Events in OpenAI's shape, word by word as the
decoder produces it (the segments the executor or the worker pod publishes on the bus),
then the diarized segments (speakers are known at the end) and ``transcript.text.done``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from audiotext.api.errors import OPENAI_PREFIX, error_body
from audiotext.api.openai_form import OpenAIRequest
from audiotext.engine.base import Transcript
from audiotext.jobs.errors import AudioTextError, TranscriptionFailed
from audiotext.jobs.states import JobStatus
from audiotext.openai_formats import diarized_segments, text_deltas, text_done
from audiotext.services.jobs import LIVE_SEGMENT, JobService, job_events

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def transcript_stream(
    jobs: JobService, job_id: str, asked: OpenAIRequest, *, owner: str | None, timeout: float
) -> AsyncIterator[bytes]:
    """The response body of a streamed transcription of job ``job_id``."""
    try:
        async for event in _events(jobs, job_id, asked, owner, timeout):
            yield sse(event)
    except AudioTextError as exc:
        # After the first byte the status is sent: the error is the stream's last event,
        # which the SDK raises as an APIError.
        body = error_body(OPENAI_PREFIX, exc.status_code, exc.message, exc.code, exc.param)
        yield sse({"type": "error", **body})


def sse(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


async def _events(
    jobs: JobService, job_id: str, asked: OpenAIRequest, owner: str | None, timeout: float
) -> AsyncIterator[dict[str, Any]]:
    logprobs = asked.logprobs
    streamed_until = 0.0  # the end of the last segment sent live
    first = True
    status = JobStatus.PENDING
    async for event in job_events(jobs, job_id, owner=owner, timeout=timeout):
        status = JobStatus(event["status"])
        live = event.get(LIVE_SEGMENT)
        if not live or live["end"] <= streamed_until:
            continue  # a state change, or a segment sent already (a replayed event)
        segment = Transcript.from_dict({"segments": [live]}).segments[0]
        for delta in text_deltas(segment, first=first, logprobs=logprobs):
            yield delta
            first = False
        streamed_until = segment.end
    if status is not JobStatus.COMPLETED:
        raise TranscriptionFailed.of(await jobs.get(job_id, owner=owner))
    transcript = await jobs.transcript(job_id, owner=owner)
    # Whatever the bus did not carry (it is not durable) comes from the stored transcript.
    for segment in transcript.segments:
        if segment.start >= streamed_until:
            for delta in text_deltas(segment, first=first, logprobs=logprobs):
                yield delta
                first = False
    if asked.diarized:
        for item in diarized_segments(transcript):
            yield item
    yield text_done(transcript, logprobs=logprobs)
