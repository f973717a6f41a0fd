"""Presigned uploads."""

from __future__ import annotations

from fastapi import APIRouter, Request

from audiotext.api.deps import OwnerDep, UploadServiceDep
from audiotext.api.schemas import PresignedUrlCreate, PresignedUrlPublic, error_responses

router = APIRouter(
    prefix="/api/v1/audio",
    tags=["uploads"],
    responses=error_responses(400, 401, 422, 429, 503),
)


@router.post(
    "/presigned-url",
    response_model=PresignedUrlPublic,
    summary="A presigned PUT URL for one audio upload",
    responses=error_responses(413, 415, 504),
)
async def create_presigned_url(
    body: PresignedUrlCreate, uploads: UploadServiceDep, owner: OwnerDep
) -> PresignedUrlPublic:
    upload = await uploads.presign(body.filename, body.content_type, body.size, owner=owner)
    return PresignedUrlPublic(
        upload_url=upload.upload_url,
        method=upload.method,
        headers=upload.headers,
        url=upload.url,
        expires_in=upload.expires_in,
    )


@router.put(
    "/upload/{token}",
    status_code=200,
    summary="Receive a presigned upload (local storage only; S3 receives its own)",
    include_in_schema=False,
)
async def receive_upload(token: str, request: Request, uploads: UploadServiceDep) -> dict[str, str]:
    key = await uploads.receive(token, request.headers.get("content-type"), request.stream())
    return {"status": "uploaded", "url": uploads.storage.url_for(key)}
