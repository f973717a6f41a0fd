"""Multipart file parts, saved to a temporary file the decoder can read."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.datastructures import UploadFile

from audiotext.jobs.errors import InvalidParameter
from audiotext.storage.base import safe_filename


@asynccontextmanager
async def saved_upload(upload: object) -> AsyncIterator[Path]:
    if not isinstance(upload, UploadFile):
        raise InvalidParameter("file: a multipart file part is required")
    suffix = Path(safe_filename(upload.filename or "audio")).suffix[:10]
    with tempfile.TemporaryDirectory(prefix="audiotext-upload-") as folder:
        path = Path(folder) / f"audio{suffix}"
        await upload.seek(0)
        with path.open("wb") as out:
            await asyncio.to_thread(shutil.copyfileobj, upload.file, out, 1024 * 1024)
        yield path


def form_text(value: object) -> str | None:
    """A text form field, or None when it is absent or empty."""
    if value is None or isinstance(value, UploadFile):
        return None
    text = str(value).strip()
    return text or None
