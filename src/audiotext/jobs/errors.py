"""Typed errors. Each carries the HTTP status it maps to; the mapping lives in api/errors.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from audiotext.jobs.schemas import JobPublic


class AudioTextError(Exception):
    """Base of every error a client may see."""

    status_code = 500
    code = "internal_error"
    param: str | None = None  # the request parameter at fault, when it is one

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAudio(AudioTextError):
    """Empty, truncated or undecodable audio."""

    status_code = 400
    code = "invalid_audio"


class UnsupportedAudio(AudioTextError):
    """Not audio, or a format we do not accept."""

    status_code = 415
    code = "unsupported_media_type"


class PayloadTooLarge(AudioTextError):
    status_code = 413
    code = "payload_too_large"


class InvalidParameter(AudioTextError):
    status_code = 422
    code = "invalid_parameter"


class InvalidValue(AudioTextError):
    """One parameter's value is wrong: 400 with the parameter named, as OpenAI answers."""

    status_code = 400
    code = "invalid_value"

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class JobNotFound(AudioTextError):
    status_code = 404
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class TranscriptionFailed(AudioTextError):
    """A job a request waited for (the OpenAI endpoint) failed or was cancelled."""

    status_code = 500
    code = "transcription_failed"

    @classmethod
    def of(cls, job: JobPublic) -> TranscriptionFailed:
        """The error of ``job``, as it ended."""
        return cls(f"transcription {job.status.value}: {job.error_message or 'no reason'}")


class ModelNotFound(AudioTextError):
    """A model this server cannot serve (none is downloaded on demand)."""

    status_code = 404
    code = "model_not_found"
    param = "model"


class ObjectNotFound(AudioTextError):
    status_code = 404
    code = "object_not_found"


class InvalidTransition(AudioTextError):
    status_code = 409
    code = "conflict"


class UploadRejected(AudioTextError):
    """A presigned upload that is expired, forged, or does not match what was signed."""

    status_code = 403
    code = "upload_rejected"


class RequestTimeout(AudioTextError):
    """The client stopped sending an upload's body part-way."""

    status_code = 408
    code = "upload_timeout"


class GatewayTimeout(AudioTextError):
    """The gateway gave up on a request that took too long."""

    status_code = 504
    code = "request_timeout"


class BackendUnavailable(AudioTextError):
    status_code = 503
    code = "backend_unavailable"


class StorageRefused(AudioTextError):
    """Object storage refused a request that retrying will not fix (credentials, policy)."""

    status_code = 500
    code = "storage_refused"


class EngineError(AudioTextError):
    """The speech engine failed on audio that looked valid."""

    status_code = 500
    code = "engine_error"


class RateLimited(AudioTextError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(max(1, retry_after))}


class RangeNotSatisfiable(AudioTextError):
    status_code = 416
    code = "range_not_satisfiable"

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.headers = {"Content-Range": f"bytes */{size}"}
