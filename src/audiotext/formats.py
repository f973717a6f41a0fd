"""Rendering a transcript as txt, json, srt, vtt, rttm and OpenAI's response formats.

A diarized transcript says who spoke in each: txt has one line per speaker turn
(``SPEAKER_00: …``), SRT cues start with the speaker, WebVTT uses voice spans
(``<v SPEAKER_00>``), and RTTM (the standard diarization file) has one line per turn.
"""

from __future__ import annotations

import json
from dataclasses import replace

from audiotext.engine.base import Segment, Transcript

MEDIA_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "json": "application/json",
    "verbose_json": "application/json",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "rttm": "text/plain; charset=utf-8",
}


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def transcript_turns(t: Transcript) -> list[tuple[str, float, float, str]]:
    """(speaker, start, end, text) of each run of segments of one speaker."""
    turns: list[tuple[str, float, float, str]] = []
    for s in t.segments:
        text = s.text.strip()
        if not text or s.speaker is None:
            continue
        if turns and turns[-1][0] == s.speaker:
            speaker, start, _, before = turns[-1]
            turns[-1] = (speaker, start, s.end, f"{before} {text}")
        else:
            turns.append((s.speaker, s.start, s.end, text))
    return turns


def render_txt(t: Transcript) -> str:
    if t.diarized:
        return "".join(f"{speaker}: {text}\n" for speaker, _, _, text in transcript_turns(t))
    return t.text + "\n" if t.text else ""


def _cue_text(s: Segment, voice_span: bool) -> str:
    text = s.text.strip()
    if s.speaker is None:
        return text
    return f"<v {s.speaker}>{text}" if voice_span else f"{s.speaker}: {text}"


def render_json(t: Transcript) -> str:
    return json.dumps(t.to_dict(), ensure_ascii=False)


def render_srt(t: Transcript) -> str:
    blocks = []
    for index, s in enumerate((s for s in t.segments if s.text.strip()), start=1):
        start, end = _timestamp(s.start, ","), _timestamp(s.end, ",")
        blocks.append(f"{index}\n{start} --> {end}\n{_cue_text(s, voice_span=False)}\n")
    return "\n".join(blocks)


def render_vtt(t: Transcript) -> str:
    cues = [
        f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{_cue_text(s, True)}\n"
        for s in t.segments
        if s.text.strip()
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def render_rttm(t: Transcript, recording: str = "audio") -> str:
    """One ``SPEAKER`` line per speaker turn (empty when the transcript is not diarized)."""
    return "".join(
        f"SPEAKER {recording} 1 {start:.3f} {end - start:.3f} <NA> <NA> {speaker} <NA> <NA>\n"
        for speaker, start, end, _ in transcript_turns(t)
    )


RENDERERS = {
    "txt": render_txt,
    "json": render_json,
    "srt": render_srt,
    "vtt": render_vtt,
    "rttm": render_rttm,
}


def render(t: Transcript, fmt: str) -> str:
    return RENDERERS[fmt](t)


def with_speaker_names(t: Transcript, names: dict[str, str]) -> Transcript:
    """``t`` with its speakers renamed (``names`` maps an id such as SPEAKER_00 to a name);
    speakers not in ``names`` keep theirs."""
    if not names:
        return t

    def named(speaker: str | None) -> str | None:
        return names.get(speaker, speaker) if speaker is not None else None

    segments = [
        replace(
            s,
            speaker=named(s.speaker),
            words=[replace(w, speaker=named(w.speaker)) for w in s.words],
        )
        for s in t.segments
    ]
    speakers = [replace(p, id=named(p.id) or p.id) for p in t.speakers or []]
    return replace(t, segments=segments, speakers=speakers if t.speakers is not None else None)
