"""The web app: its page at ``/``, its files under ``/app/``, and what it asks the server
first (``/api/v1/options``): which options a job can take and how uploads are sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from audiotext.api.deps import SettingsDep
from audiotext.audio import CONTENT_TYPES
from audiotext.diarization import MAX_SPEAKERS
from audiotext.jobs.choices import OUTPUT_FORMATS, TASKS, WHISPER_LANGUAGES
from audiotext.services.uploads import ACCEPTED_CONTENT_TYPES

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
# Scripts and styles only from this server, never inline; uploads may go to S3's own host.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self' ws: wss: http: https:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

router = APIRouter(tags=["web app"])


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(
        WEB_ROOT / "index.html",
        headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"},
    )


@router.get("/api/v1/options", summary="What a job can ask for, and how to upload its audio")
async def options(settings: SettingsDep) -> dict[str, Any]:
    presigned = settings.resolved_storage_url.startswith("s3://")
    return {
        "auth": settings.auth,
        "upload": {
            "method": "presigned" if presigned else "multipart",
            "max_bytes": settings.max_upload_bytes,
            "extensions": sorted(CONTENT_TYPES),
            "content_types": sorted(ACCEPTED_CONTENT_TYPES),
        },
        "max_audio_seconds": settings.max_audio_seconds,
        "default_model": settings.model,
        "tasks": list(TASKS),
        "languages": list(WHISPER_LANGUAGES),
        "output_formats": list(OUTPUT_FORMATS),
        "diarization": {"max_speakers": MAX_SPEAKERS},
    }
