"""OpenAI's Realtime transcription protocol, as pure functions: the session's configuration
and how ``session.update`` changes it, the server's events, and the checks on what a client
sends (every bad event is an ``error`` event, and the session stays open)."""

from __future__ import annotations

import base64
import binascii
import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from audiotext.jobs.choices import WHISPER_LANGUAGES
from audiotext.jobs.decoding import MAX_PROMPT

INPUT_RATE = 24_000  # PCM16 mono at 24 kHz: the only rate the protocol has
CLIENT_EVENTS = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
    }
)
_ids = itertools.count(1)


class ProtocolError(Exception):
    """What a client sent that the session cannot take, as an ``error`` event."""

    def __init__(self, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param


@dataclass(frozen=True)
class TurnDetection:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500

    def public(self) -> dict[str, Any]:
        return {
            "type": "server_vad",
            "threshold": self.threshold,
            "prefix_padding_ms": self.prefix_padding_ms,
            "silence_duration_ms": self.silence_duration_ms,
        }


@dataclass(frozen=True)
class SessionConfig:
    model: str
    language: str | None = None
    prompt: str = ""
    turn_detection: TurnDetection | None = field(default_factory=TurnDetection)

    def public(self, session_id: str) -> dict[str, Any]:
        """The session as ``session.created`` and ``session.updated`` carry it."""
        return {
            "id": session_id,
            "object": "realtime.transcription_session",
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": INPUT_RATE},
                    "transcription": {
                        "model": self.model,
                        "language": self.language,
                        "prompt": self.prompt,
                    },
                    "turn_detection": self.turn_detection and self.turn_detection.public(),
                    "noise_reduction": None,
                }
            },
            "include": [],
        }


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):08d}"


def server_event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": new_id("event"), **fields}


def error_event(error: ProtocolError, client_event_id: str | None = None) -> dict[str, Any]:
    return server_event(
        "error",
        error={
            "type": "invalid_request_error",
            "code": error.code,
            "message": error.message,
            "param": error.param,
            "event_id": client_event_id,
        },
    )


def client_event(message: Any) -> dict[str, Any]:
    """A client's event, checked for its type."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("an event is a JSON object with a type", "invalid_event", "type")
    if message["type"] not in CLIENT_EVENTS:
        raise ProtocolError(
            f"unknown event type {message['type']!r} in a transcription session",
            "unknown_event",
            "type",
        )
    return message


def pcm16(audio: Any) -> bytes:
    """The bytes of an ``input_audio_buffer.append``: base64 PCM16, whole samples."""
    if not isinstance(audio, str) or not audio:
        raise ProtocolError("audio must be base64-encoded PCM16", "invalid_audio", "audio")
    try:
        data = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("audio is not valid base64", "invalid_audio", "audio") from None
    if len(data) % 2:
        raise ProtocolError(
            "audio has an odd number of bytes: PCM16 samples are 2 bytes each",
            "invalid_audio",
            "audio",
        )
    return data


def updated(config: SessionConfig, session: Any, models: frozenset[str]) -> SessionConfig:
    """``config`` with what a ``session.update`` asks for; nothing changes when any of it is
    wrong."""
    if not isinstance(session, dict):
        raise ProtocolError("session must be an object", "invalid_value", "session")
    if session.get("type", "transcription") != "transcription":
        raise ProtocolError(
            "this endpoint serves transcription sessions (session.type=transcription)",
            "invalid_value",
            "session.type",
        )
    audio_input = ((session.get("audio") or {}).get("input")) or {}
    if not isinstance(audio_input, dict):
        raise ProtocolError("audio.input must be an object", "invalid_value", "session.audio")
    fmt = audio_input.get("format")
    if fmt is not None and (
        not isinstance(fmt, dict)
        or fmt.get("type", "audio/pcm") != "audio/pcm"
        or fmt.get("rate", INPUT_RATE) != INPUT_RATE
    ):
        raise ProtocolError(
            "the audio format is audio/pcm at 24000 Hz",
            "invalid_value",
            "session.audio.input.format",
        )
    result = config
    if "transcription" in audio_input:
        result = _with_transcription(result, audio_input["transcription"], models)
    if "turn_detection" in audio_input:
        result = replace(result, turn_detection=_turn_detection(audio_input["turn_detection"]))
    return result


def _with_transcription(config: SessionConfig, asked: Any, models: frozenset[str]) -> SessionConfig:
    where = "session.audio.input.transcription"
    if not isinstance(asked, dict):
        raise ProtocolError("transcription must be an object", "invalid_value", where)
    model = asked.get("model", config.model)
    if not isinstance(model, str) or model not in models:
        raise ProtocolError(
            f"the model {model!r} does not exist on this server",
            "model_not_found",
            f"{where}.model",
        )
    language = asked.get("language", config.language) or None
    if language is not None and language not in WHISPER_LANGUAGES:
        raise ProtocolError(f"unknown language {language!r}", "invalid_value", f"{where}.language")
    prompt = asked.get("prompt", config.prompt) or ""
    if not isinstance(prompt, str) or len(prompt) > MAX_PROMPT:
        raise ProtocolError(
            f"prompt must be text of at most {MAX_PROMPT} characters",
            "invalid_value",
            f"{where}.prompt",
        )
    return replace(config, model=model, language=language, prompt=prompt)


def _turn_detection(asked: Any) -> TurnDetection | None:
    where = "session.audio.input.turn_detection"
    if asked is None:
        return None
    if not isinstance(asked, dict) or asked.get("type", "server_vad") != "server_vad":
        raise ProtocolError("turn_detection is server_vad or null", "invalid_value", where)
    default = TurnDetection()
    threshold = asked.get("threshold", default.threshold)
    padding = asked.get("prefix_padding_ms", default.prefix_padding_ms)
    silence = asked.get("silence_duration_ms", default.silence_duration_ms)
    if not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise ProtocolError("threshold is between 0 and 1", "invalid_value", f"{where}.threshold")
    for name, value in (("prefix_padding_ms", padding), ("silence_duration_ms", silence)):
        if not isinstance(value, int) or not 0 <= value <= 10_000:
            raise ProtocolError(
                f"{name} is an integer from 0 to 10000", "invalid_value", f"{where}.{name}"
            )
    return TurnDetection(float(threshold), padding, silence)
