"""Known speakers: short clips of voices, sent as data URLs, that diarization names.

OpenAI's ``known_speaker_names[]`` with ``known_speaker_references[]``: at most four, each clip
2 to 10 s of audio in any accepted format. A bad one is a 400 naming the parameter, and the
clips live in temporary files only until the job service has stored them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from audiotext import audio
from audiotext.jobs.errors import InvalidAudio, InvalidValue, UnsupportedAudio

MAX_KNOWN_SPEAKERS = 4
MIN_SECONDS, MAX_SECONDS = 2.0, 10.0
MAX_CLIP_BYTES = 4 * 1024 * 1024
NAMES = "known_speaker_names"
REFERENCES = "known_speaker_references"
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?:;[^,;]*)*;base64,(?P<data>.*)$", re.S)


@dataclass(frozen=True)
class KnownSpeaker:
    name: str
    path: Path
    content_type: str


def _decoded(reference: str, index: int) -> tuple[bytes, str]:
    match = _DATA_URL.match(reference.strip())
    if match is None:
        raise InvalidValue(f"{REFERENCES}[{index}] is not a base64 data URL of audio", REFERENCES)
    try:
        data = base64.b64decode(match["data"], validate=False)
    except (binascii.Error, ValueError):
        raise InvalidValue(f"{REFERENCES}[{index}] is not valid base64", REFERENCES) from None
    if not data or len(data) > MAX_CLIP_BYTES:
        raise InvalidValue(f"{REFERENCES}[{index}] must be a clip of at most 10 s", REFERENCES)
    return data, match["type"] or "application/octet-stream"


def _checked_names(names: Sequence[str], references: Sequence[str]) -> list[str]:
    if len(names) != len(references):
        raise InvalidValue(
            f"{NAMES}[] and {REFERENCES}[] must have as many entries ({len(names)} and "
            f"{len(references)} were given)",
            NAMES,
        )
    if len(names) > MAX_KNOWN_SPEAKERS:
        raise InvalidValue(f"at most {MAX_KNOWN_SPEAKERS} known speakers", NAMES)
    cleaned = [name.strip() for name in names]
    if any(not name or len(name) > 64 for name in cleaned) or len(set(cleaned)) < len(cleaned):
        raise InvalidValue(f"{NAMES}[] must be distinct names of 1 to 64 characters", NAMES)
    return cleaned


@asynccontextmanager
async def known_speakers(
    names: Sequence[str], references: Sequence[str]
) -> AsyncIterator[list[KnownSpeaker]]:
    """The checked clips as temporary files, for as long as the context lasts."""
    cleaned = _checked_names(names, references)
    with tempfile.TemporaryDirectory(prefix="audiotext-speakers-") as folder:
        speakers = []
        for index, (name, reference) in enumerate(zip(cleaned, references, strict=True)):
            data, content_type = _decoded(reference, index)
            path = Path(folder) / f"speaker-{index}"
            await asyncio.to_thread(path.write_bytes, data)
            try:
                info = await asyncio.to_thread(audio.probe, path)
            except (InvalidAudio, UnsupportedAudio) as exc:
                raise InvalidValue(f"{REFERENCES}[{index}]: {exc.message}", REFERENCES) from None
            if info.duration is None or not MIN_SECONDS <= info.duration <= MAX_SECONDS:
                raise InvalidValue(
                    f"{REFERENCES}[{index}] must be 2 to 10 s of audio "
                    f"({info.duration or 0:.1f} s was given)",
                    REFERENCES,
                )
            speakers.append(KnownSpeaker(name, path, content_type))
        yield speakers
