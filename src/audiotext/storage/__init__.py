"""Object storage backends, chosen by ``AUDIOTEXT_STORAGE_URL``."""

from __future__ import annotations

from pathlib import Path

from audiotext.config import Settings
from audiotext.storage.base import (
    ObjectStorage,
    PresignedUpload,
    transcript_key,
    upload_key,
    upload_prefix,
)

__all__ = [
    "ObjectStorage",
    "PresignedUpload",
    "open_storage",
    "transcript_key",
    "upload_key",
    "upload_prefix",
]


def open_storage(settings: Settings) -> ObjectStorage:
    url = settings.resolved_storage_url
    if url.startswith("s3://"):
        from audiotext.storage.s3 import S3Storage

        return S3Storage(url)
    from audiotext.storage.local import LocalStorage

    secret = settings.secret_key.get_secret_value().encode() or None
    root = Path(url.removeprefix("file://"))
    return LocalStorage(root, public_url=settings.resolved_public_url, secret=secret)
