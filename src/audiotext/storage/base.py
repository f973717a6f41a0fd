"""The object storage interface: audio in, transcript artifacts out."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# The size of each chunk a ranged read yields.
READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class PresignedUpload:
    """Where and how a client sends the bytes of one object."""

    upload_url: str
    url: str
    expires_in: int
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "PUT"


class ObjectStorage(Protocol):
    def url_for(self, key: str) -> str:
        """The URL that names ``key`` in this store (what clients pass to transcribe)."""

    def key_for(self, url: str) -> str:
        """The key behind a URL of this store; ``InvalidParameter`` for any other URL."""

    async def put_file(self, key: str, path: Path, content_type: str) -> None: ...

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get_bytes(self, key: str) -> bytes: ...

    def read_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (inclusive) of the object, in chunks: what a media
        player asks for with an HTTP range, never the whole object at once."""

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when it does not exist."""

    async def delete(self, key: str) -> None: ...

    def local_path(self, key: str) -> AbstractAsyncContextManager[Path]:
        """A readable local file with the object's bytes, for as long as the context lasts."""

    async def presign_upload(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> PresignedUpload: ...

    async def receive_upload(
        self, token: str, content_type: str | None, chunks: AsyncIterator[bytes]
    ) -> str:
        """Store the body of a presigned upload sent to the gateway; returns the key."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(filename: str) -> str:
    """A filename reduced to a harmless basename: no directories, no dot-files, no controls."""
    name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip("._") or "audio"
    return name[-120:]


def upload_prefix(owner: str | None = None) -> str:
    """Where an owner's uploads are kept (every upload without one)."""
    return f"uploads/{owner}/" if owner else "uploads/"


def upload_key(filename: str, owner: str | None = None) -> str:
    """A fresh, unguessable key for an uploaded audio file, under the owner's prefix."""
    return f"{upload_prefix(owner)}{uuid.uuid4().hex}/{safe_filename(filename)}"


def transcript_key(job_id: str, fmt: str) -> str:
    return f"transcripts/{job_id}/transcript.{fmt}"
