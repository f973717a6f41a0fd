"""The public shape of a job: what the API returns and what the event bus carries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from audiotext.jobs.states import JobStatus


class LanguageShare(BaseModel):
    language: str
    seconds: float = Field(description="Seconds of speech in this language.")
    probability: float = Field(description="How sure the detection was, from 0 to 1.")


class ShardCounts(BaseModel):
    total: int
    succeeded: int
    running: int
    failed: int


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    filename: str
    url: str
    status: JobStatus
    progress: int = Field(ge=0, le=100)
    result_text: str | None = None
    error_message: str | None = None
    processing_time_seconds: float | None = None
    description: str | None = None
    model: str
    engine: str
    language: str | None = None
    task: str
    audio_duration_seconds: float | None = None
    speakers: int | None = Field(None, description="How many speakers diarization found.")
    languages: list[LanguageShare] | None = Field(
        None, description="The languages detected over the whole file, the most spoken first."
    )
    shards: ShardCounts | None = Field(
        None, description="How far the shards are, for a recording transcribed in shards."
    )
    queued: str | None = Field(
        None,
        description="Kubernetes with Kueue: why the job still waits for admission, in Kueue's "
        "words (no quota left, preempted); empty once it runs.",
    )
    attempts: int = 0
    callback_url: str | None = None
    creation_date: datetime
    update_date: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    # What the job asked for beyond these fields (diarization, formats): for the executor
    # that hands the job on, never shown.
    options: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @classmethod
    def of(cls, row: Any) -> JobPublic:
        return cls.model_validate(row, from_attributes=True)

    def event(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
