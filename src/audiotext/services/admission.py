"""What a client asks for (``JobRequest``), the row it becomes, and the checks a request must
pass before anything of it is stored. Used by the job service, which alone adds the row."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from audiotext.config import Settings
from audiotext.db.models import TranscriptionJobRow
from audiotext.diarization import check_speaker_counts
from audiotext.jobs.choices import ENGINES, Task
from audiotext.jobs.errors import InvalidAudio, InvalidParameter, PayloadTooLarge
from audiotext.jobs.states import JobStatus
from audiotext.netguard import check_outbound_url


@dataclass(frozen=True)
class JobRequest:
    """What a client asks for, independent of how the audio arrived."""

    filename: str
    description: str | None = None
    model: str | None = None
    engine: str | None = None
    language: str | None = None
    task: Task = "transcribe"
    callback_url: str | None = None
    # Beyond these fields: how to decode (jobs.decoding), diarization, formats, and more.
    options: dict[str, Any] = field(default_factory=dict)


def queued_in(request: JobRequest, queue: str | None) -> JobRequest:
    """The request as its tenant's Kueue queue runs it (as it is: the default queue)."""
    return replace(request, options={**request.options, "queue": queue}) if queue else request


def pending_row(
    settings: Settings, request: JobRequest, url: str, **fields: Any
) -> TranscriptionJobRow:
    """A new job's row as the request asks for it; ``fields`` adds id, owner, duration."""
    return TranscriptionJobRow(
        filename=request.filename[:255],
        url=url,
        status=JobStatus.PENDING,
        description=request.description,
        model=request.model or settings.model,
        engine=request.engine or settings.engine,
        language=request.language,
        task=request.task,
        progress=0,
        attempts=0,
        options=dict(request.options),
        callback_url=request.callback_url,
        callback_attempts=0,
        **fields,
    )


async def check_request(settings: Settings, request: JobRequest) -> None:
    """The checks that need neither the audio nor the database."""
    if request.engine is not None and request.engine not in ENGINES:
        raise InvalidParameter(f"unknown engine {request.engine!r}")
    if request.options.get("diarize"):
        check_speaker_counts(
            request.options.get("min_speakers"), request.options.get("max_speakers")
        )
    if request.callback_url:
        if not settings.webhook_secret.get_secret_value():
            # Signed with an empty key, anyone could forge the deliveries.
            raise InvalidParameter(
                "callback_url needs a webhook secret: this server has no "
                "AUDIOTEXT_WEBHOOK_SECRET, so its deliveries could be forged"
            )
        await check_outbound_url(request.callback_url, allow_private=settings.webhook_allow_private)


def check_size(settings: Settings, size: int) -> None:
    if size > settings.max_upload_bytes:
        raise PayloadTooLarge(f"the audio is larger than {settings.max_upload_bytes} bytes")


def check_duration(settings: Settings, duration: float | None) -> None:
    if duration is not None and duration > settings.max_audio_seconds:
        raise InvalidAudio(
            f"the audio claims {duration:.0f}s; the limit is {settings.max_audio_seconds:.0f}s"
        )
