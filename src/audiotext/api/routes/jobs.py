"""Jobs: create, read, list, cancel, transcript."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from audiotext.api.deps import JobServiceDep, OwnerDep, SettingsDep, jobs_of, owner_of, queue_of
from audiotext.api.schemas import JobCreate, JobList, JobPublic, error_responses
from audiotext.api.uploaded_file import form_text, saved_upload
from audiotext.formats import MEDIA_TYPES, render, with_speaker_names
from audiotext.jobs.choices import OutputFormat
from audiotext.jobs.decoding import DECODING_OPTIONS, decoding_options
from audiotext.jobs.errors import InvalidParameter, UnsupportedAudio
from audiotext.jobs.states import JobStatus
from audiotext.services.admission import JobRequest, queued_in

router = APIRouter(
    prefix="/api/v1/job", tags=["jobs"], responses=error_responses(400, 401, 404, 422, 429, 503)
)

_JOB_FIELDS = (
    "description",
    "model",
    "engine",
    "language",
    "task",
    "callback_url",
    "diarize",
    "min_speakers",
    "max_speakers",
    "shard_seconds",
    "max_parallel",
    "priority",
    *(name for name in DECODING_OPTIONS if name != "vad_parameters"),
)

_TRANSCRIBE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": JobCreate.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        **{name: {"type": "string"} for name in ("filename", *_JOB_FIELDS)},
                    },
                }
            },
        },
    }
}


def _request_of(fields: dict[str, Any], filename: str) -> JobRequest:
    return JobRequest(
        filename=filename,
        description=fields.get("description"),
        model=fields.get("model"),
        engine=fields.get("engine"),
        language=fields.get("language"),
        task=fields.get("task") or "transcribe",
        callback_url=fields.get("callback_url"),
        options={
            **decoding_options(fields),
            **speaker_options(fields),
            **shard_options(fields),
            **({"priority": fields["priority"]} if fields.get("priority") else {}),
        },
    )


def shard_options(fields: dict[str, Any]) -> dict[str, Any]:
    """What a job asks of sharding, as its options keep it (nothing: the server's defaults)."""
    asked = {k: fields[k] for k in ("shard_seconds", "max_parallel") if fields.get(k) is not None}
    return {"sharding": asked} if asked else {}


def speaker_options(fields: dict[str, Any]) -> dict[str, Any]:
    """What a job asks of diarization, as its options keep it (nothing when it does not)."""
    if not fields.get("diarize"):
        return {}
    counts = {k: fields[k] for k in ("min_speakers", "max_speakers") if fields.get(k) is not None}
    return {"diarize": True, **counts}


@router.post(
    "/transcribe",
    status_code=202,
    response_model=JobPublic,
    summary="Start a job for an uploaded object (JSON) or a file (multipart)",
    openapi_extra=_TRANSCRIBE_BODY,
    responses=error_responses(400, 408, 413, 415),
)
async def transcribe(
    request: Request, jobs: JobServiceDep, owner: OwnerDep, settings: SettingsDep
) -> JobPublic:
    content_type = request.headers.get("content-type", "")
    queue = queue_of(request)
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=20) as form:
            fields = {name: form_text(form.get(name)) for name in ("filename", *_JOB_FIELDS)}
            upload = form.get("file")
            filename = fields["filename"] or (
                upload.filename if isinstance(upload, UploadFile) else None
            )
            try:
                checked = JobCreate.model_validate(
                    {
                        **{k: v for k, v in fields.items() if v is not None},
                        "filename": filename or "audio",
                        "url": "multipart",
                    }
                )
            except ValidationError as exc:
                raise InvalidParameter(_first_error(exc)) from None
            async with saved_upload(upload) as path:
                part_type = upload.content_type if isinstance(upload, UploadFile) else ""
                return await jobs.create_from_file(
                    queued_in(_request_of(checked.model_dump(), checked.filename), queue),
                    path,
                    part_type or "",
                    owner=owner,
                )
    if not content_type.startswith("application/json"):
        raise UnsupportedAudio("send JSON with an uploaded object's url, or a multipart file")
    try:
        body = JobCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise InvalidParameter(_first_error(exc)) from None
    return await jobs.create_from_url(
        queued_in(_request_of(body.model_dump(), body.filename), queue), body.url, owner=owner
    )


def _first_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "invalid parameters: " + "; ".join(parts)


@router.get(
    "/status/{job_id}",
    response_model=JobPublic,
    summary="A job's status and result",
    responses=error_responses(504),
)
async def get_status(job_id: str, request: Request) -> Response:
    # The hottest route. It takes the request itself rather than the two dependencies (solving
    # them cost as much as the database read), and its body is serialised once by the model
    # it already is, not dumped, validated again and encoded by FastAPI's response_model path
    # (which still documents it).
    job = await jobs_of(request).get(job_id, owner=owner_of(request))
    return Response(job.model_dump_json(), media_type="application/json")


@router.get(
    "/read", response_model=JobList, summary="Jobs, newest first", responses=error_responses(504)
)
async def list_jobs(
    jobs: JobServiceDep,
    owner: OwnerDep,
    status: Annotated[JobStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> JobList:
    items, total = await jobs.list(status=status, limit=limit, offset=offset, owner=owner)
    return JobList(items=items, total=total, limit=limit, offset=offset)


@router.delete(
    "/{job_id}",
    response_model=JobPublic,
    summary="Cancel a pending or running job",
    responses=error_responses(409, 504),
)
async def cancel_job(job_id: str, jobs: JobServiceDep, owner: OwnerDep) -> JobPublic:
    return await jobs.cancel(job_id, owner=owner)


@router.get(
    "/{job_id}/transcript",
    summary="The transcript as txt, json, srt or vtt",
    response_class=Response,
    responses={
        200: {
            "content": {
                m.split(";")[0]: {"schema": {"type": "string"}} for m in MEDIA_TYPES.values()
            }
        },
        **error_responses(409, 504),
    },
)
async def get_transcript(
    job_id: str,
    jobs: JobServiceDep,
    owner: OwnerDep,
    format: Annotated[OutputFormat, Query()] = "txt",
    speaker_names: Annotated[
        str | None,
        Query(
            max_length=4000,
            description='Names for the speakers, as a JSON object: {"SPEAKER_00": "Ada"}.',
        ),
    ] = None,
) -> Response:
    names = _speaker_names(speaker_names)
    transcript = await jobs.transcript(job_id, owner=owner)
    named = with_speaker_names(transcript, names)
    return Response(render(named, format), media_type=MEDIA_TYPES[format])


def _speaker_names(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        names = json.loads(text)
    except ValueError:
        names = None
    if not isinstance(names, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and 0 < len(v.strip()) <= 64
        for k, v in names.items()
    ):
        raise InvalidParameter(
            "speaker_names must be a JSON object of speaker ids to names of 1 to 64 characters"
        )
    return {k: v.strip() for k, v in names.items()}
