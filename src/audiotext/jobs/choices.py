"""What a job can ask for: its engine, its task and the transcript formats it is written in.

Each is spelled once, as a Literal with its values beside it; settings, API schemas, the CLI,
the service and the operator all import them from here.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

EngineName = Literal["faster-whisper", "openai-whisper"]
ENGINES: tuple[EngineName, ...] = get_args(EngineName)

Task = Literal["transcribe", "translate"]
TASKS: tuple[Task, ...] = get_args(Task)

OutputFormat = Literal["txt", "json", "srt", "vtt"]
# In this order everywhere: artifacts, status.outputs, the CLI's choices.
OUTPUT_FORMATS: tuple[OutputFormat, ...] = get_args(OutputFormat)


def task_of(value: object) -> Task:
    """A task from untyped input (a row, a resource's spec): translate, or else transcribe."""
    return "translate" if value == "translate" else "transcribe"


def requested_formats(options: dict[str, Any] | None) -> tuple[OutputFormat, ...]:
    """The transcript artifacts a job asks for (a resource's outputFormats); all by default."""
    asked = (options or {}).get("output_formats") or OUTPUT_FORMATS
    return tuple(fmt for fmt in OUTPUT_FORMATS if fmt in asked)
