"""Upload filenames and keys (audiotext.storage.base)."""

from __future__ import annotations

import pytest

from audiotext.storage.base import safe_filename, upload_key


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("talk.flac", "talk.flac"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("...", "audio"),
        (".hidden.wav", "hidden.wav"),
        ("naïve café.mp3", "naive_cafe.mp3"),
        ("a/b/c/../../x y.wav", "x_y.wav"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


def test_upload_key_is_scoped_and_unique() -> None:
    a, b = upload_key("x.wav", "tenant1"), upload_key("x.wav", "tenant1")
    assert a != b
    assert a.startswith("uploads/tenant1/") and a.endswith("/x.wav")
