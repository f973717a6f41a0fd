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

OutputFormat = Literal["txt", "json", "srt", "vtt", "rttm"]
# In this order everywhere: artifacts, status.outputs, the CLI's choices.
OUTPUT_FORMATS: tuple[OutputFormat, ...] = get_args(OutputFormat)
# What a job writes unless it asks otherwise (rttm too when it is diarized).
DEFAULT_OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("txt", "json", "srt", "vtt")


# Kueue WorkloadPriorityClasses (the chart makes both), most urgent first.
Priority = Literal["interactive", "batch"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)

# Shards shorter than this are not worth a pod; a shard size is 0 (no shards) or at least this.
MIN_SHARD_SECONDS = 30.0


def task_of(value: object) -> Task:
    """A task from untyped input (a row, a resource's spec): translate, or else transcribe."""
    return "translate" if value == "translate" else "transcribe"


def requested_formats(options: dict[str, Any] | None) -> tuple[OutputFormat, ...]:
    """The transcript artifacts a job asks for (a resource's outputFormats); by default the
    four transcript formats, and rttm too for a diarized job."""
    options = options or {}
    default = (
        (*DEFAULT_OUTPUT_FORMATS, "rttm") if options.get("diarize") else DEFAULT_OUTPUT_FORMATS
    )
    asked = options.get("output_formats") or default
    return tuple(fmt for fmt in OUTPUT_FORMATS if fmt in asked)


# The languages Whisper's multilingual models know, by the codes a job's `language` takes.
_WHISPER_CODES = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no "
    "th ur hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw "
    "gl mr pa si km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl "
    "mg as tt haw ln ha ba jw su yue"
)
WHISPER_LANGUAGES: tuple[str, ...] = tuple(_WHISPER_CODES.split())
