"""Presigned uploads: the client sends its bytes straight to storage, never through a job row."""

from __future__ import annotations

from collections.abc import AsyncIterator

from audiotext.audio import CONTENT_TYPES
from audiotext.config import Settings
from audiotext.jobs.errors import PayloadTooLarge, UnsupportedAudio
from audiotext.storage import ObjectStorage, PresignedUpload, upload_key

ACCEPTED_CONTENT_TYPES = frozenset(
    {
        *CONTENT_TYPES.values(),
        "audio/mp3",
        "audio/x-wav",
        "audio/wave",
        "audio/x-flac",
        "audio/x-m4a",
        "audio/m4a",
        "audio/aacp",
        "audio/x-aac",
        "video/mp4",
        "video/webm",
        "application/ogg",
        "audio/vorbis",
        "audio/opus",
    }
)


def check_content_type(content_type: str) -> str:
    base = content_type.split(";")[0].strip().lower()
    if base not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedAudio(
            f"content type {content_type!r} is not a supported audio format "
            "(mp3, wav, flac, m4a, mp4, aac, ogg, webm)"
        )
    return base


class UploadService:
    def __init__(self, settings: Settings, storage: ObjectStorage) -> None:
        self.settings = settings
        self.storage = storage

    async def presign(
        self, filename: str, content_type: str, size: int, *, owner: str | None = None
    ) -> PresignedUpload:
        content_type = check_content_type(content_type)
        if size > self.settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"{size} bytes is more than the limit of {self.settings.max_upload_bytes}"
            )
        key = upload_key(filename, owner)
        return await self.storage.presign_upload(
            key, content_type, size, self.settings.upload_url_expires_seconds
        )

    async def receive(
        self, token: str, content_type: str | None, chunks: AsyncIterator[bytes]
    ) -> str:
        return await self.storage.receive_upload(token, content_type, chunks)
