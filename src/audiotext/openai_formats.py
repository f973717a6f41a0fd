"""OpenAI's response bodies and stream events, built from our transcript types; each matches
the official SDK's type of the same name (``Transcription``, ``TranscriptionVerbose``,
``TranscriptionDiarized``, ``TranscriptionTextDeltaEvent`` and the rest)."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import asdict
from typing import Any

from audiotext.engine.base import Segment, Transcript

# Whisper's encoder turns each second of audio into 50 positions: the "audio tokens" of
# the usage a stream's last event reports (OpenAI bills its newer models by tokens).
AUDIO_TOKENS_PER_SECOND = 50


def openai_json(t: Transcript, *, logprobs: bool = False) -> dict[str, Any]:
    """OpenAI's ``json`` body (``Transcription``)."""
    body: dict[str, Any] = {"text": t.text, "usage": usage_of(t)}
    if logprobs:
        body["logprobs"] = _all_logprobs(t.segments)
    return body


def openai_verbose(t: Transcript, granularities: Collection[str]) -> dict[str, Any]:
    """OpenAI's ``verbose_json`` body (``TranscriptionVerbose``): segments unless only words
    were asked for, words when they were."""
    body: dict[str, Any] = {
        "task": t.task,
        "language": language_name(t.language),
        "duration": t.duration,
        "text": t.text,
        "usage": usage_of(t),
    }
    if t.languages is not None:
        # Extension: the languages detected over the whole file, the most spoken first.
        body["languages"] = [asdict(share) for share in t.languages]
    if "segment" in granularities or not granularities:
        body["segments"] = [
            {
                "id": s.id,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": s.tokens,
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
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


def openai_speaker(speaker: str | None) -> str:
    """OpenAI's label of a speaker: A, B, … for the ones found (SPEAKER_00 is A); a known
    speaker's own name."""
    if speaker is None:
        return "A"
    if speaker.startswith("SPEAKER_") and speaker[8:].isdigit():
        index = int(speaker[8:])
        return chr(ord("A") + index) if index < 26 else speaker
    return speaker


def diarized_segments(t: Transcript) -> list[dict[str, Any]]:
    """The ``transcript.text.segment`` objects of a diarized transcript."""
    return [
        {
            "type": "transcript.text.segment",
            "id": f"seg_{s.id}",
            "start": s.start,
            "end": s.end,
            "text": s.text.strip(),
            "speaker": openai_speaker(s.speaker),
        }
        for s in t.segments
        if s.text.strip()
    ]


def openai_diarized(t: Transcript) -> dict[str, Any]:
    """OpenAI's ``diarized_json`` body (``TranscriptionDiarized``)."""
    return {
        "task": "transcribe",
        "duration": t.duration,
        "text": t.text,
        "segments": diarized_segments(t),
        "usage": usage_of(t),
    }


def usage_of(t: Transcript) -> dict[str, Any]:
    """What a request used, as OpenAI bills whisper-1: the audio's seconds."""
    return {"type": "duration", "seconds": round(t.duration, 3)}


# --- streaming (stream=true) ------------------------------------------------------------


def pieces(segment: Segment) -> list[tuple[str, float | None]]:
    """A segment's text word by word, with each word's probability where the engine timed
    the words (the deltas of a stream, the entries of ``logprobs``)."""
    words = [(w.word.strip(), w.probability) for w in segment.words if w.word.strip()]
    if words:
        return list(words)
    return [(word, None) for word in segment.text.split()]


def text_deltas(segment: Segment, *, first: bool, logprobs: bool = False) -> list[dict[str, Any]]:
    """The ``transcript.text.delta`` events of one decoded segment, a word each; their
    deltas joined are the transcript's text (``first``: the stream's first segment)."""
    events = []
    for index, (word, probability) in enumerate(pieces(segment)):
        delta = word if first and index == 0 else f" {word}"
        event: dict[str, Any] = {"type": "transcript.text.delta", "delta": delta}
        if logprobs:
            event["logprobs"] = [logprob(delta, probability)]
        events.append(event)
    return events


def text_done(t: Transcript, *, logprobs: bool = False) -> dict[str, Any]:
    """The stream's last event, ``transcript.text.done``, with the whole text and the
    tokens used: audio positions in, text tokens out."""
    audio_tokens = math.ceil(t.duration * AUDIO_TOKENS_PER_SECOND)
    text_tokens = sum(len(s.tokens) for s in t.segments)
    event: dict[str, Any] = {
        "type": "transcript.text.done",
        "text": t.text,
        "usage": {
            "type": "tokens",
            "input_tokens": audio_tokens,
            "output_tokens": text_tokens,
            "total_tokens": audio_tokens + text_tokens,
            "input_token_details": {"audio_tokens": audio_tokens, "text_tokens": 0},
        },
    }
    if logprobs:
        event["logprobs"] = _all_logprobs(t.segments)
    return event


def logprob(token: str, probability: float | None) -> dict[str, Any]:
    """One ``logprobs`` entry; the engine's probabilities are per word."""
    value = math.log(max(probability, 1e-12)) if probability is not None else 0.0
    return {"token": token, "logprob": round(value, 6), "bytes": list(token.encode())}


def _all_logprobs(segments: Iterable[Segment]) -> list[dict[str, Any]]:
    entries = []
    for s in segments:
        entries += [logprob(word, p) for word, p in pieces(s)]
    return entries


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


def language_name(code: str) -> str:
    """The language's name as OpenAI's ``verbose_json`` gives it (``english``)."""
    return _LANGUAGES.get(code, code)
