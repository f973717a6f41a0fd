"""Recognising and decoding audio by its content, never by its name alone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiotext.engine.base import SAMPLE_RATE
from audiotext.jobs.errors import InvalidAudio, UnsupportedAudio

if TYPE_CHECKING:
    from audiotext.engine.base import Audio

SUPPORTED_FORMATS = ("mp3", "wav", "flac", "m4a", "mp4", "aac", "ogg", "webm")

# Container names as FFmpeg reports them, mapped to the formats we accept.
_CONTAINERS = {
    "mp3": "mp3",
    "wav": "wav",
    "flac": "flac",
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4",
    "aac": "aac",
    "ogg": "ogg",
    "matroska,webm": "webm",
}

CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "webm": "audio/webm",
}

_ARCHIVES = (b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c", b"Rar!")


@dataclass(frozen=True)
class AudioInfo:
    format: str
    codec: str
    duration: float | None


def sniff(head: bytes) -> str | None:
    """The audio format that the first bytes of a file announce, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mp3"  # MPEG audio frame sync
    return None


def probe(path: Path) -> AudioInfo:
    """Check that ``path`` holds decodable audio in a supported format.

    Raises ``InvalidAudio`` (400) for empty or broken files and ``UnsupportedAudio`` (415)
    for anything that is not audio we accept.
    """
    import av

    size = path.stat().st_size
    if size == 0:
        raise InvalidAudio("the file is empty")
    with path.open("rb") as f:
        head = f.read(64)
    if head.startswith(_ARCHIVES):
        raise UnsupportedAudio("the file is an archive, not audio")
    if sniff(head) == "wav":
        _check_wav_sizes(path, size)
    if sniff(head) is None:
        raise UnsupportedAudio(
            f"the file is not audio in a supported format ({', '.join(SUPPORTED_FORMATS)})"
        )
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            fmt = _CONTAINERS.get(container.format.name)
            if fmt is None:
                raise UnsupportedAudio(f"unsupported audio format {container.format.name!r}")
            if not container.streams.audio:
                raise UnsupportedAudio("the file has no audio stream")
            stream = container.streams.audio[0]
            decoded = False
            for frame in container.decode(stream):
                if frame.samples > 0:
                    decoded = True
                    break
            if not decoded:
                raise InvalidAudio("the file has no decodable audio (empty or truncated)")
            duration = float(container.duration) / 1_000_000 if container.duration else None
            return AudioInfo(format=fmt, codec=stream.codec_context.name, duration=duration)
    except (UnsupportedAudio, InvalidAudio):
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise InvalidAudio(f"the audio cannot be decoded: {exc}") from exc


def _check_wav_sizes(path: Path, size: int) -> None:
    """A WAV whose header claims far more samples than the file holds is truncated or forged."""
    import struct

    with path.open("rb") as f:
        f.seek(12)
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return
            name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"data":
                # 0 and 0xFFFFFFFF mean "unknown" (written by streaming encoders).
                remaining = size - f.tell()
                if length not in (0, 0xFFFFFFFF) and length > remaining * 1.01 + 64:
                    raise InvalidAudio(
                        f"the WAV header claims {length} bytes of audio but the file holds "
                        f"{remaining}: truncated or forged"
                    )
                return
            f.seek(length + (length & 1), 1)


def decode(path: Path) -> Audio:
    """The whole file as 16 kHz mono float32, the way Whisper wants it."""
    import av
    import numpy as np
    from faster_whisper.audio import decode_audio

    try:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        raise InvalidAudio(f"the audio cannot be decoded: {exc}") from exc
    return np.asarray(audio, dtype=np.float32)


def decode_range(path: Path, start: float, end: float) -> Audio:
    """Seconds ``start`` to ``end`` of the file as 16 kHz mono float32: a seek, then only
    that range is decoded, so a part of a long recording costs the memory of that part."""
    import av
    import numpy as np

    wanted = max(0, round((end - start) * SAMPLE_RATE))
    pieces: list[np.ndarray] = []
    have = 0
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            frames = _frames_from(container, stream, start)
            first, frame = next(frames, (start, None))
            skip = max(0, round((start - first) * SAMPLE_RATE))
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            while frame is not None and have < wanted:
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                    pieces.append(chunk[: wanted - have])
                    have += len(pieces[-1])
                frame = next(frames, (0.0, None))[1]
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        raise InvalidAudio(f"the audio cannot be decoded: {exc}") from exc
    if not pieces:
        return np.zeros(0, np.float32)
    return np.concatenate(pieces).astype(np.float32, copy=False)


def _frames_from(container: Any, stream: Any, start: float) -> Iterator[tuple[float, Any]]:
    """(time, frame) of the decoded frames from one at or before ``start``. A seek may land
    a little after the time asked for (Ogg does), so it backs off until it lands before."""
    # Decoded audio starts at the stream's start time (an MP3's encoder delay): frame times
    # are measured from there.
    base = stream.time_base
    origin = float(stream.start_time * base) if stream.start_time and base else 0.0
    target = start
    for attempt in range(6):
        if target > 0 and base is not None:
            container.seek(int((target + origin) / base), stream=stream, backward=True)
        elif target <= 0:
            container.seek(0, stream=stream, backward=True)
        frames = container.decode(stream)
        frame = next(frames, None)
        if frame is None:
            return
        time = float(frame.time) - origin if frame.time is not None else 0.0
        if time <= start + 1e-6 or target <= 0:
            yield time, frame
            for frame in frames:
                yield 0.0, frame
            return
        target = max(0.0, target - 2.0 * (1 + attempt))
