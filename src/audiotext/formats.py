"""Rendering a transcript as txt, json, srt, vtt and OpenAI's response formats."""

from __future__ import annotations

import json
from typing import Any

from audiotext.engine.base import Transcript

MEDIA_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "json": "application/json",
    "verbose_json": "application/json",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def render_txt(t: Transcript) -> str:
    return t.text + "\n" if t.text else ""


def render_json(t: Transcript) -> str:
    return json.dumps(t.to_dict(), ensure_ascii=False)


def render_srt(t: Transcript) -> str:
    blocks = []
    for index, s in enumerate((s for s in t.segments if s.text.strip()), start=1):
        start, end = _timestamp(s.start, ","), _timestamp(s.end, ",")
        blocks.append(f"{index}\n{start} --> {end}\n{s.text.strip()}\n")
    return "\n".join(blocks)


def render_vtt(t: Transcript) -> str:
    cues = [
        f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{s.text.strip()}\n"
        for s in t.segments
        if s.text.strip()
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


RENDERERS = {"txt": render_txt, "json": render_json, "srt": render_srt, "vtt": render_vtt}


def render(t: Transcript, fmt: str) -> str:
    return RENDERERS[fmt](t)


def openai_verbose(t: Transcript, granularities: set[str]) -> dict[str, Any]:
    """OpenAI's ``verbose_json`` body."""
    body: dict[str, Any] = {
        "task": t.task,
        "language": _language_name(t.language),
        "duration": t.duration,
        "text": t.text,
    }
    if "segment" in granularities or not granularities:
        body["segments"] = [
            {
                "id": s.id,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": [],
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": 0.0,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in t.segments
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": w.word.strip(), "start": w.start, "end": w.end}
            for s in t.segments
            for w in s.words
        ]
    return body


_LANGUAGES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "ja": "japanese",
    "zh": "chinese",
    "ru": "russian",
}


def _language_name(code: str) -> str:
    return _LANGUAGES.get(code, code)
