"""How a job asks the decoder to work: prompt, hotwords, temperature, beam size, word
timestamps and the voice-activity filter. One set of names and bounds for the seed API, the
OpenAI endpoint and the TranscriptionJob spec; a job's options keep them under these names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audiotext.jobs.errors import InvalidValue

MAX_PROMPT = 2000
MAX_HOTWORDS = 1000
BEAM_SIZES = (1, 10)
# Silero VAD's parameters under the names a request uses, with the name faster-whisper
# gives each and its bounds.
VAD_PARAMETERS = {
    "threshold": ("threshold", 0.0, 1.0),
    "prefix_padding_ms": ("speech_pad_ms", 0, 10_000),
    "silence_duration_ms": ("min_silence_duration_ms", 0, 10_000),
}
# The option names of a job's row, in the order a reader expects them.
DECODING_OPTIONS = (
    "prompt",
    "hotwords",
    "temperature",
    "beam_size",
    "word_timestamps",
    "vad_filter",
    "vad_parameters",
)


def decoding_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """The decoding options in ``values`` (typed, or text from a form), checked and typed
    as a job's options keep them; absent ones are left to the server's defaults.

    ``vad_parameters`` holds ``threshold``, ``prefix_padding_ms`` and
    ``silence_duration_ms`` (OpenAI's ``server_vad`` names; the engine translates them)."""
    options: dict[str, Any] = {}
    for name, limit in (("prompt", MAX_PROMPT), ("hotwords", MAX_HOTWORDS)):
        text = values.get(name)
        if text is None or text == "":
            continue
        if not isinstance(text, str) or len(text) > limit:
            raise InvalidValue(f"{name} must be text of at most {limit} characters", name)
        options[name] = text
    if values.get("temperature") is not None:
        options["temperature"] = _number(values["temperature"], "temperature", 0.0, 1.0)
    if values.get("beam_size") is not None:
        low, high = BEAM_SIZES
        options["beam_size"] = int(_number(values["beam_size"], "beam_size", low, high, whole=True))
    for name in ("word_timestamps", "vad_filter"):
        if values.get(name) is not None:
            options[name] = flag(values[name], name)
    vad = values.get("vad_parameters")
    if isinstance(vad, Mapping):
        vad = {key: value for key, value in vad.items() if value is not None and value != ""}
    if vad:
        if not isinstance(vad, Mapping) or not set(vad) <= set(VAD_PARAMETERS):
            known = ", ".join(VAD_PARAMETERS)
            raise InvalidValue(f"vad_parameters may hold {known}", "vad_parameters")
        options["vad_parameters"] = {
            key: _number(
                value,
                f"vad_parameters.{key}",
                VAD_PARAMETERS[key][1],
                VAD_PARAMETERS[key][2],
                whole=key != "threshold",
            )
            for key, value in vad.items()
        }
        options.setdefault("vad_filter", True)
    return options


def engine_vad_parameters(parameters: Mapping[str, float]) -> dict[str, float]:
    """A job's VAD parameters under the names faster-whisper gives them."""
    return {VAD_PARAMETERS[key][0]: value for key, value in parameters.items()}


def flag(value: Any, param: str) -> bool:
    """A yes/no parameter: a boolean, or its text from a form."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise InvalidValue(f"{param} must be true or false", param)


def _number(value: Any, param: str, low: float, high: float, *, whole: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidValue(f"{param} must be a number", param) from None
    if isinstance(value, bool) or not low <= number <= high or (whole and number != int(number)):
        kind = "a whole number" if whole else "a number"
        raise InvalidValue(f"{param} must be {kind} from {low:g} to {high:g}", param)
    return int(number) if whole else number
