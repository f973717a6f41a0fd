"""Audio format sniffing (audiotext.audio)."""

from __future__ import annotations

import pytest

from audiotext.audio import sniff


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"fLaC\x00\x00", "flac"),
        (b"OggS\x00\x02", "ogg"),
        (b"\x1a\x45\xdf\xa3\x01", "webm"),
        (b"\x00\x00\x00\x20ftypM4A ", "mp4"),
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"\xff\xf1\x50\x80", "aac"),
        (b"PK\x03\x04", None),
        (b"hello world", None),
        (b"", None),
    ],
)
def test_sniff(head: bytes, fmt: str | None) -> None:
    assert sniff(head) == fmt
