"""A job's audio for its owner, with HTTP range requests (what a media player seeks with)."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from audiotext.api.deps import JobServiceDep, OwnerDep, ServicesDep
from audiotext.api.schemas import AudioLinkPublic, error_responses
from audiotext.services.audio_links import LINK_SECONDS, byte_range

router = APIRouter(
    prefix="/api/v1/job", tags=["jobs"], responses=error_responses(401, 404, 422, 429, 503, 504)
)
AUDIO_PATH = "/api/v1/job/{job_id}/audio"


@router.post(
    "/{job_id}/audio-link",
    response_model=AudioLinkPublic,
    summary="A signed link to the job's audio, for players that cannot send an API key",
)
async def create_audio_link(
    job_id: str, jobs: JobServiceDep, owner: OwnerDep, services: ServicesDep
) -> AudioLinkPublic:
    await jobs.get(job_id, owner=owner)
    token = services.links.token(job_id, owner)
    return AudioLinkPublic(
        url=f"{AUDIO_PATH.format(job_id=job_id)}?access={token}", expires_in=LINK_SECONDS
    )


@router.head("/{job_id}/audio", include_in_schema=False)
@router.get(
    "/{job_id}/audio",
    response_class=StreamingResponse,
    summary="The job's original audio (Range requests answered with 206)",
    responses={
        200: {"content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}}},
        206: {"description": "The bytes the Range header asked for"},
        **error_responses(416),
    },
)
async def get_audio(
    job_id: str,
    request: Request,
    jobs: JobServiceDep,
    owner: OwnerDep,
    services: ServicesDep,
    access: Annotated[str | None, Query(max_length=512)] = None,
) -> StreamingResponse:
    if access is not None:
        owner = services.links.owner(job_id, access)
    job, key, size = await jobs.audio(job_id, owner=owner)
    wanted = byte_range(request.headers.get("range"), size)
    start, end = wanted or (0, size - 1)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start + 1),
        "Cache-Control": "private, max-age=3600",
    }
    if wanted:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    media_type = mimetypes.guess_type(job.filename)[0] or "application/octet-stream"
    body = services.storage.read_range(key, start, end) if request.method == "GET" else _empty()
    return StreamingResponse(
        body, status_code=206 if wanted else 200, headers=headers, media_type=media_type
    )


async def _empty() -> AsyncIterator[bytes]:
    nothing: tuple[bytes, ...] = ()
    for chunk in nothing:
        yield chunk
