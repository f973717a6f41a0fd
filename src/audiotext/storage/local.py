"""Storage in a local folder; presigned uploads are signed URLs served by the gateway itself."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from audiotext.jobs.errors import (
    InvalidParameter,
    ObjectNotFound,
    PayloadTooLarge,
    UploadRejected,
)
from audiotext.storage.base import READ_CHUNK, PresignedUpload

UPLOAD_PATH = "/api/v1/audio/upload/"


class LocalStorage:
    def __init__(self, root: Path, *, public_url: str, secret: bytes | None = None) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.public_url = public_url.rstrip("/")
        self.secret = secret or _persistent_secret(self.root / ".upload-secret")

    # --- names ---------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidParameter(f"invalid object key: {key!r}")
        return path

    def url_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def key_for(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise InvalidParameter("url must name an object uploaded to this service")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidParameter("url must name an object uploaded to this service")
        return path.relative_to(self.root).as_posix()

    # --- objects -------------------------------------------------------------------------
    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        target = self._path(key)
        await asyncio.to_thread(_copy_atomic, path, target)

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        target = self._path(key)
        await asyncio.to_thread(_write_atomic, target, data)

    async def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise ObjectNotFound(f"object {key} not found") from None

    async def read_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"object {key} not found") from None
        try:
            await asyncio.to_thread(handle.seek, start)
            left = end - start + 1
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(READ_CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def size(self, key: str) -> int | None:
        path = self._path(key)
        try:
            return path.stat().st_size if path.is_file() else None
        except OSError:
            return None

    async def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Remove the now-empty per-upload folder, never the root.
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    @asynccontextmanager
    async def local_path(self, key: str) -> AsyncIterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(f"object {key} not found")
        yield path

    # --- presigned uploads ---------------------------------------------------------------
    async def presign_upload(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> PresignedUpload:
        claims = {"k": key, "t": content_type, "s": size, "e": int(time.time()) + expires_in}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        token = f"{payload}.{self._sign(payload)}"
        return PresignedUpload(
            upload_url=f"{self.public_url}{UPLOAD_PATH}{token}",
            url=self.url_for(key),
            expires_in=expires_in,
            headers={"Content-Type": content_type},
        )

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())

    def _verify(self, token: str) -> dict[str, object]:
        payload, _, signature = token.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(payload)):
            raise UploadRejected("upload URL is not valid")
        claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=="))
        if int(str(claims["e"])) < time.time():
            raise UploadRejected("upload URL has expired")
        return claims

    async def receive_upload(
        self, token: str, content_type: str | None, chunks: AsyncIterator[bytes]
    ) -> str:
        claims = self._verify(token)
        key, signed_type, signed_size = str(claims["k"]), str(claims["t"]), int(str(claims["s"]))
        if (content_type or "").split(";")[0].strip().lower() != signed_type.lower():
            raise UploadRejected(f"Content-Type must be {signed_type}, as signed")
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        received = 0
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > signed_size:
                        raise PayloadTooLarge(
                            f"upload is larger than the {signed_size} bytes that were signed"
                        )
                    await asyncio.to_thread(out.write, chunk)
            if received != signed_size:
                raise UploadRejected(f"upload has {received} bytes but {signed_size} were signed")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return key

    async def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise OSError(f"storage folder {self.root} is not writable")

    async def close(self) -> None:
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _persistent_secret(path: Path) -> bytes:
    # One secret per storage folder, so upload URLs survive a restart of the server.
    try:
        return path.read_bytes()
    except FileNotFoundError:
        secret = secrets.token_bytes(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secret)
        return secret


def _copy_atomic(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    partial.write_bytes(data)
    os.replace(partial, target)
