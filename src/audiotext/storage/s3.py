"""Storage in an S3 bucket (AWS, MinIO, …); clients upload straight to S3 with presigned PUTs."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from audiotext.jobs.errors import (
    AudioTextError,
    BackendUnavailable,
    InvalidParameter,
    ObjectNotFound,
    StorageRefused,
)
from audiotext.storage.base import READ_CHUNK, PresignedUpload

_MISSING = {"404", "NoSuchKey", "NotFound"}
# HEAD answers carry no error body, so a bare 403 stands for any of the named refusals.
_DENIED = {
    "403",
    "AccessDenied",
    "AllAccessDisabled",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidToken",
    "SignatureDoesNotMatch",
}
_BUSY = {
    "RequestLimitExceeded",
    "RequestTimeout",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
}


def storage_error(exc: Exception, key: str = "") -> AudioTextError:
    """What a boto3 failure means to us: missing, transient (503, retried) or refused."""
    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, Exception):
        exc = exc.__context__  # upload_file wraps the ClientError it met
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StorageRefused(f"object storage credentials are missing: {exc}")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        http = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _MISSING:
            return ObjectNotFound(f"object {key} not found")
        if code in _DENIED:
            return StorageRefused(
                f"object storage denied access ({code}): check AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY and the bucket's policy"
            )
        if code in _BUSY or http == 429 or http >= 500:
            return BackendUnavailable(
                f"object storage unavailable: {code} {error.get('Message', '')}"
            )
        return StorageRefused(f"object storage refused the request: {exc}")
    return BackendUnavailable(f"object storage unavailable: {exc}")


class S3Storage:
    def __init__(self, url: str, *, endpoint_url: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an s3:// URL: {url}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        )
        # Endpoint and credentials come from the standard AWS_* variables unless given; a session
        # of its own reads them now, where boto3's default one keeps the first it ever read.
        session = boto3.session.Session()
        self.client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        self._bucket_ready = False

    def _full(self, key: str) -> str:
        if ".." in key.split("/") or key.startswith("/"):
            raise InvalidParameter(f"invalid object key: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def url_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def key_for(self, url: str) -> str:
        parts = urlsplit(url)
        path = parts.path.lstrip("/")
        prefix = f"{self.prefix}/" if self.prefix else ""
        if parts.scheme != "s3" or parts.netloc != self.bucket or not path.startswith(prefix):
            raise InvalidParameter("url must name an object uploaded to this service")
        key = path[len(prefix) :]
        self._full(key)
        return key

    async def _call(self, method: str, **kwargs: Any) -> Any:
        await self._ensure_bucket()
        return await self._raw(method, **kwargs)

    async def _raw(self, method: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self.client, method), **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise storage_error(exc, kwargs.get("Key", "")) from exc

    async def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        try:
            await self._raw("head_bucket", Bucket=self.bucket)
        except ObjectNotFound:
            try:
                await asyncio.to_thread(self.client.create_bucket, Bucket=self.bucket)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise storage_error(exc) from exc
            except BotoCoreError as exc:
                raise storage_error(exc) from exc
        self._bucket_ready = True

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await self._ensure_bucket()
        try:
            await asyncio.to_thread(
                self.client.upload_file,
                str(path),
                self.bucket,
                self._full(key),
                ExtraArgs={"ContentType": content_type},
            )
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise storage_error(exc, key) from exc

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        await self._call(
            "put_object",
            Bucket=self.bucket,
            Key=self._full(key),
            Body=data,
            ContentType=content_type,
        )

    async def get_bytes(self, key: str) -> bytes:
        response = await self._call("get_object", Bucket=self.bucket, Key=self._full(key))
        body: bytes = await asyncio.to_thread(response["Body"].read)
        return body

    async def read_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        response = await self._call(
            "get_object", Bucket=self.bucket, Key=self._full(key), Range=f"bytes={start}-{end}"
        )
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def size(self, key: str) -> int | None:
        try:
            head = await self._call("head_object", Bucket=self.bucket, Key=self._full(key))
        except ObjectNotFound:
            return None
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Bucket=self.bucket, Key=self._full(key))

    @asynccontextmanager
    async def local_path(self, key: str) -> AsyncIterator[Path]:
        await self._ensure_bucket()
        suffix = Path(key).suffix
        with tempfile.TemporaryDirectory(prefix="audiotext-") as folder:
            path = Path(folder) / f"audio{suffix}"
            try:
                await asyncio.to_thread(
                    self.client.download_file, self.bucket, self._full(key), str(path)
                )
            except (BotoCoreError, ClientError) as exc:
                raise storage_error(exc, key) from exc
            yield path

    async def presign_upload(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> PresignedUpload:
        await self._ensure_bucket()
        # Content type and length are part of the signature: the store refuses anything else.
        upload_url: str = await asyncio.to_thread(
            self.client.generate_presigned_url,
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._full(key),
                "ContentType": content_type,
                "ContentLength": size,
            },
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        return PresignedUpload(
            upload_url=upload_url,
            url=self.url_for(key),
            expires_in=expires_in,
            headers={"Content-Type": content_type, "Content-Length": str(size)},
        )

    async def receive_upload(
        self, token: str, content_type: str | None, chunks: AsyncIterator[bytes]
    ) -> str:
        raise ObjectNotFound("uploads go straight to object storage with the presigned URL")

    async def ping(self) -> None:
        try:
            await asyncio.wait_for(self._raw("head_bucket", Bucket=self.bucket), timeout=5)
        except ObjectNotFound:
            return  # reachable; the bucket is created on first use

    async def close(self) -> None:
        return None
