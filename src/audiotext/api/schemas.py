"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from audiotext.diarization import MAX_SPEAKERS
from audiotext.jobs.choices import MIN_SHARD_SECONDS, EngineName, Priority, Task
from audiotext.jobs.decoding import BEAM_SIZES, MAX_HOTWORDS, MAX_PROMPT
from audiotext.jobs.schemas import JobPublic

__all__ = [
    "AudioLinkPublic",
    "ErrorBody",
    "HealthPublic",
    "JobCreate",
    "JobList",
    "JobPublic",
    "OpenAIErrorBody",
    "PresignedUrlCreate",
    "PresignedUrlPublic",
    "error_responses",
]


class VadParameters(BaseModel):
    """Silero VAD's settings for one job (OpenAI's ``server_vad`` names)."""

    model_config = ConfigDict(extra="forbid")
    threshold: float | None = Field(None, ge=0, le=1, description="Speech probability.")
    prefix_padding_ms: int | None = Field(None, ge=0, le=10_000, description="Kept around speech.")
    silence_duration_ms: int | None = Field(
        None, ge=0, le=10_000, description="Silence that ends a stretch of speech."
    )


class JobBase(BaseModel):
    description: str | None = Field(None, max_length=2000)
    model: str | None = Field(None, max_length=255, description="Default from configuration.")
    engine: EngineName | None = None
    language: str | None = Field(
        None,
        min_length=2,
        max_length=16,
        pattern=r"^[A-Za-z-]+$",
        description="Detected if absent.",
    )
    task: Task = "transcribe"
    callback_url: str | None = Field(
        None, max_length=2000, description="Receives the job (POST, signed) at its final state."
    )
    diarize: bool = Field(False, description="Say who spoke: a speaker on every segment and word.")
    min_speakers: int | None = Field(
        None, ge=1, le=MAX_SPEAKERS, description="With diarize: at least."
    )
    max_speakers: int | None = Field(
        None, ge=1, le=MAX_SPEAKERS, description="With diarize: at most."
    )

    # How to decode (jobs.decoding): the same names and bounds as the OpenAI endpoint's.
    prompt: str | None = Field(
        None, max_length=MAX_PROMPT, description="Text the decoder is primed with."
    )
    hotwords: str | None = Field(
        None, max_length=MAX_HOTWORDS, description="Words the decoder should expect."
    )
    temperature: float | None = Field(None, ge=0, le=1, description="Sampling temperature.")
    beam_size: int | None = Field(
        None, ge=BEAM_SIZES[0], le=BEAM_SIZES[1], description="Default from configuration."
    )
    word_timestamps: bool | None = Field(
        None, description="Time each word (default on; diarization always does)."
    )
    vad_filter: bool | None = Field(
        None, description="Skip what is not speech (default from configuration)."
    )
    vad_parameters: VadParameters | None = None

    priority: Priority | None = Field(
        None,
        description="Kubernetes with Kueue: interactive jobs are admitted before batch ones and "
        "may preempt them (default: the queue's).",
    )

    # Long recordings (Kubernetes: one Indexed Job, a pod per shard).
    shard_seconds: float | None = Field(
        None,
        ge=0,
        le=24 * 3600,
        description=f"Transcribe a recording longer than this in shards of about this length, "
        f"cut at pauses (0: never; else at least {MIN_SHARD_SECONDS:.0f}). Default from "
        "configuration.",
    )
    max_parallel: int | None = Field(
        None, ge=1, le=1000, description="At most this many shards at once (Kubernetes)."
    )

    @model_validator(mode="after")
    def _shards_not_tiny(self) -> JobBase:
        if self.shard_seconds is not None and 0 < self.shard_seconds < MIN_SHARD_SECONDS:
            raise ValueError(
                f"shard_seconds must be 0 (no shards) or at least {MIN_SHARD_SECONDS:.0f}"
            )
        return self

    @model_validator(mode="after")
    def _speaker_counts_in_order(self) -> JobBase:
        low, high = self.min_speakers, self.max_speakers
        if low is not None and high is not None and low > high:
            raise ValueError("min_speakers must not be larger than max_speakers")
        return self


class JobCreate(JobBase):
    filename: str = Field(min_length=1, max_length=255)
    url: str = Field(min_length=1, max_length=2000, description="The `url` of a presigned upload.")


class JobList(BaseModel):
    items: list[JobPublic]
    total: int
    limit: int
    offset: int


class PresignedUrlCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=3, max_length=255, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size: int = Field(gt=0, description="Exact size of the file in bytes.")


class PresignedUrlPublic(BaseModel):
    upload_url: str
    method: str
    headers: dict[str, str]
    url: str
    expires_in: int


class AudioLinkPublic(BaseModel):
    url: str = Field(description="The audio's path on this server, signed for its owner.")
    expires_in: int = Field(description="Seconds the link stays valid.")


class HealthPublic(BaseModel):
    name: str
    version: str
    status: str
    executor: str


class ErrorBody(BaseModel):
    detail: str
    code: str


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(BaseModel):
    error: OpenAIErrorDetail


def error_responses(*codes: int, openai: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the errors a route can answer with, in the shape it uses."""
    model = OpenAIErrorBody if openai else ErrorBody
    return {code: {"model": model, "description": ERROR_MEANINGS[code]} for code in codes}


ERROR_MEANINGS = {
    400: "Broken or empty audio",
    401: "Missing or invalid API key",
    404: "Unknown job or object",
    408: "The upload's body stopped arriving",
    409: "The job's state does not allow it",
    413: "Too large",
    415: "Not audio, or an unsupported format",
    416: "The byte range is outside the file",
    422: "Invalid parameters",
    429: "Rate limit or job quota reached",
    500: "The transcription failed",
    503: "A backend is unavailable",
    504: "The request took too long",
}
