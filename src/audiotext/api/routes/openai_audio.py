"""OpenAI-compatible speech to text: the official ``openai`` SDK works against these unchanged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from audiotext.api.deps import JobServiceDep, OwnerDep, SettingsDep
from audiotext.api.schemas import error_responses
from audiotext.api.uploaded_file import form_text, saved_upload
from audiotext.config import Settings
from audiotext.formats import MEDIA_TYPES, openai_diarized, openai_verbose, render
from audiotext.jobs.choices import Task
from audiotext.jobs.errors import AudioTextError, InvalidParameter, InvalidValue
from audiotext.jobs.states import JobStatus
from audiotext.services.admission import JobRequest
from audiotext.services.jobs import JobService, wait_for_final
from audiotext.services.speaker_references import NAMES, known_speakers

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
            }
        },
        **error_responses(400, 401, 408, 413, 415, 422, 429, 500, 503, openai=True),
    },
)

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
# Names that OpenAI clients send; they all mean "the configured default model".
OPENAI_MODEL_ALIASES = (
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-transcribe-diarize",
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
                        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
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


class FailedJob(AudioTextError):
    status_code = 500
    code = "transcription_failed"


def _model(name: str | None, settings: Settings) -> str:
    if not name:
        raise InvalidParameter("model is required (whisper-1 selects the default model)")
    return settings.model if name in OPENAI_MODEL_ALIASES else name


async def _handle(
    request: Request,
    jobs: JobService,
    owner: str | None,
    settings: Settings,
    task: Task,
) -> Response:
    # Known speakers' clips come as data URLs in form fields: up to 4 MiB each.
    async with request.form(max_files=1, max_fields=40, max_part_size=6 * 1024 * 1024) as form:
        response_format = form_text(form.get("response_format")) or "json"
        if response_format not in RESPONSE_FORMATS:
            raise InvalidParameter(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}")
        temperature_text = form_text(form.get("temperature"))
        try:
            temperature = float(temperature_text) if temperature_text is not None else None
        except ValueError:
            raise InvalidParameter("temperature must be a number") from None
        if temperature is not None and not 0 <= temperature <= 1:
            raise InvalidParameter("temperature must be between 0 and 1")
        granularities = {str(g) for g in form.getlist("timestamp_granularities[]")}
        if not granularities <= {"segment", "word"}:
            raise InvalidParameter("timestamp_granularities[] may hold segment and word")
        diarized = response_format == "diarized_json"
        if diarized and task == "translate":
            raise InvalidParameter("diarized_json is for transcriptions")
        language = form_text(form.get("language"))
        if language is not None and (len(language) > 16 or not language.replace("-", "").isalpha()):
            raise InvalidParameter("language must be a language code such as en")
        names = [str(n) for n in form.getlist("known_speaker_names[]")]
        references = [str(r) for r in form.getlist("known_speaker_references[]")]
        if (names or references) and not diarized:
            raise InvalidValue("known speakers need response_format=diarized_json", NAMES)
        upload = form.get("file")
        job_request = JobRequest(
            filename=getattr(upload, "filename", None) or "audio",
            model=_model(form_text(form.get("model")), settings),
            language=language,
            task=task,
            prompt=form_text(form.get("prompt")),
            temperature=temperature,
            # diarized_json asks who spoke (OpenAI's speaker annotations).
            options={"source": "openai", **({"diarize": True} if diarized else {})},
        )
        async with known_speakers(names, references) as speakers, saved_upload(upload) as path:
            job = await jobs.create_from_file(
                job_request,
                path,
                getattr(upload, "content_type", "") or "",
                owner=owner,
                speakers=speakers,
            )
    job = await wait_for_final(jobs, job.id, settings.openai_timeout_seconds)
    if job.status != JobStatus.COMPLETED:
        raise FailedJob(f"transcription {job.status.value}: {job.error_message or 'no reason'}")
    transcript = await jobs.transcript(job.id, owner=owner)
    if response_format == "json":
        return JSONResponse({"text": transcript.text})
    if response_format == "verbose_json":
        return JSONResponse(openai_verbose(transcript, granularities))
    if response_format == "diarized_json":
        return JSONResponse(openai_diarized(transcript))
    fmt = "txt" if response_format == "text" else response_format
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
