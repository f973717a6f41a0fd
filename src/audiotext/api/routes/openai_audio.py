"""OpenAI-compatible speech to text: the official ``openai`` SDK works against these unchanged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from audiotext.api.deps import JobServiceDep, OwnerDep, SettingsDep, queue_of
from audiotext.api.openai_form import INCLUDES, RESPONSE_FORMATS, OpenAIRequest, read_request
from audiotext.api.openai_stream import HEADERS as STREAM_HEADERS
from audiotext.api.openai_stream import MEDIA_TYPE as STREAM_MEDIA_TYPE
from audiotext.api.openai_stream import transcript_stream
from audiotext.api.schemas import error_responses
from audiotext.api.uploaded_file import form_text, saved_upload
from audiotext.config import Settings
from audiotext.engine.base import Transcript
from audiotext.engine.catalog import find_model
from audiotext.formats import MEDIA_TYPES, render
from audiotext.jobs.choices import Task
from audiotext.jobs.decoding import BEAM_SIZES
from audiotext.jobs.errors import InvalidValue, ModelNotFound, TranscriptionFailed
from audiotext.jobs.states import JobStatus
from audiotext.openai_formats import openai_diarized, openai_json, openai_verbose
from audiotext.services.admission import queued_in
from audiotext.services.jobs import JobService, wait_for_final
from audiotext.services.speaker_references import known_speakers

router = APIRouter(
    prefix="/v1/audio",
    tags=["openai"],
    responses={
        200: {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/plain": {"schema": {"type": "string"}},
                "text/vtt": {"schema": {"type": "string"}},
                "application/x-subrip": {"schema": {"type": "string"}},
                "text/event-stream": {"schema": {"type": "string"}},
            }
        },
        **error_responses(400, 401, 404, 408, 413, 415, 429, 500, 503, openai=True),
    },
)

_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "model"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "model": {"type": "string"},
                        "language": {"type": "string"},
                        "prompt": {"type": "string"},
                        "response_format": {"type": "string", "enum": list(RESPONSE_FORMATS)},
                        "stream": {"type": "boolean"},
                        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
                        "include[]": {
                            "type": "array",
                            "items": {"type": "string", "enum": list(INCLUDES)},
                        },
                        "chunking_strategy": {
                            "description": '"auto", or {"type": "server_vad", "threshold", '
                            '"prefix_padding_ms", "silence_duration_ms"}',
                        },
                        "hotwords": {
                            "type": "string",
                            "description": "Extension: words the decoder should expect.",
                        },
                        "vad_filter": {
                            "type": "boolean",
                            "description": "Extension: skip what is not speech (default on).",
                        },
                        "beam_size": {
                            "type": "integer",
                            "minimum": BEAM_SIZES[0],
                            "maximum": BEAM_SIZES[1],
                            "description": "Extension: the decoder's beam width.",
                        },
                        "timestamp_granularities[]": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["segment", "word"]},
                        },
                        "known_speaker_names[]": {
                            "type": "array",
                            "maxItems": 4,
                            "items": {"type": "string"},
                        },
                        "known_speaker_references[]": {
                            "type": "array",
                            "maxItems": 4,
                            "items": {"type": "string", "description": "data:audio/…;base64,…"},
                        },
                    },
                }
            }
        },
    }
}


def _model(name: str | None, settings: Settings) -> str:
    if not name:
        raise InvalidValue("model is required (whisper-1 selects the default model)", "model")
    entry = find_model(settings, name)
    if entry is None:
        raise ModelNotFound(f"the model {name!r} does not exist on this server (GET /v1/models)")
    return entry.alias_of or entry.id


async def _handle(
    request: Request,
    jobs: JobService,
    owner: str | None,
    settings: Settings,
    task: Task,
) -> Response:
    # Known speakers' clips come as data URLs in form fields: up to 4 MiB each.
    async with request.form(max_files=1, max_fields=60, max_part_size=6 * 1024 * 1024) as form:
        asked = read_request(form, task, _model(form_text(form.get("model")), settings))
        upload = form.get("file")
        async with (
            known_speakers(asked.speaker_names, asked.speaker_references) as speakers,
            saved_upload(upload) as path,
        ):
            job = await jobs.create_from_file(
                queued_in(asked.job, queue_of(request)),
                path,
                getattr(upload, "content_type", "") or "",
                owner=owner,
                speakers=speakers,
            )
    if asked.stream:
        body = transcript_stream(
            jobs, job.id, asked, owner=owner, timeout=settings.openai_timeout_seconds
        )
        return StreamingResponse(body, media_type=STREAM_MEDIA_TYPE, headers=STREAM_HEADERS)
    job = await wait_for_final(jobs, job.id, settings.openai_timeout_seconds)
    if job.status != JobStatus.COMPLETED:
        raise TranscriptionFailed.of(job)
    transcript = await jobs.transcript(job.id, owner=owner)
    return _rendered(transcript, asked)


def _rendered(transcript: Transcript, asked: OpenAIRequest) -> Response:
    if asked.response_format == "json":
        return JSONResponse(openai_json(transcript, logprobs=asked.logprobs))
    if asked.response_format == "verbose_json":
        return JSONResponse(openai_verbose(transcript, asked.granularities))
    if asked.response_format == "diarized_json":
        return JSONResponse(openai_diarized(transcript))
    fmt = "txt" if asked.response_format == "text" else asked.response_format
    return PlainTextResponse(render(transcript, fmt), media_type=MEDIA_TYPES[fmt])


@router.post("/transcriptions", summary="OpenAI-compatible transcription", openapi_extra=_FORM_BODY)
async def create_transcription(
    request: Request, jobs: JobServiceDep, owner: OwnerDep, settings: SettingsDep
) -> Response:
    return await _handle(request, jobs, owner, settings, "transcribe")


@router.post(
    "/translations", summary="OpenAI-compatible translation to English", openapi_extra=_FORM_BODY
)
async def create_translation(
    request: Request, jobs: JobServiceDep, owner: OwnerDep, settings: SettingsDep
) -> Response:
    return await _handle(request, jobs, owner, settings, "translate")
