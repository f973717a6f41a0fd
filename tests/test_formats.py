"""Transcript rendering (audiotext.formats)."""

from __future__ import annotations

from audiotext.engine import Segment, Transcript, Word
from audiotext.formats import render
from audiotext.openai_formats import openai_verbose

TRANSCRIPT = Transcript(
    language="en",
    duration=4.5,
    segments=[
        Segment(0, 0.0, 1.25, " Hello there.", [Word(0.0, 0.5, " Hello", 0.9)]),
        Segment(1, 1.25, 3661.5, " General Kenobi.", []),
    ],
)


def test_srt_and_vtt() -> None:
    srt = render(TRANSCRIPT, "srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,250\nHello there.\n")
    assert "2\n00:00:01,250 --> 01:01:01,500\nGeneral Kenobi.\n" in srt
    vtt = render(TRANSCRIPT, "vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n")
    assert render(TRANSCRIPT, "txt") == "Hello there. General Kenobi.\n"


def test_json_round_trip() -> None:
    import json

    data = json.loads(render(TRANSCRIPT, "json"))
    assert data["text"] == "Hello there. General Kenobi."
    assert Transcript.from_dict(data) == TRANSCRIPT


def test_openai_verbose() -> None:
    body = openai_verbose(TRANSCRIPT, {"word"})
    assert body["language"] == "english"
    assert body["words"] == [{"word": "Hello", "start": 0.0, "end": 0.5}]
    assert "segments" not in body
    assert len(openai_verbose(TRANSCRIPT, set())["segments"]) == 2
