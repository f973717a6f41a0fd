"""Pure parts: states, formats, sniffing, filenames, settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiotext.audio import sniff
from audiotext.config import Settings, async_database_url, requested_formats
from audiotext.engine import Segment, Transcript, Word
from audiotext.formats import openai_verbose, render
from audiotext.jobs.errors import InvalidTransition
from audiotext.jobs.states import JobStatus, can_transition, check_transition
from audiotext.storage.base import safe_filename, upload_key


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (JobStatus.PENDING, JobStatus.PROCESSING, True),
        (JobStatus.PENDING, JobStatus.CANCELLED, True),
        (JobStatus.PROCESSING, JobStatus.COMPLETED, True),
        (JobStatus.PROCESSING, JobStatus.PENDING, True),
        (JobStatus.PROCESSING, JobStatus.PROCESSING, True),
        (JobStatus.COMPLETED, JobStatus.PROCESSING, False),
        (JobStatus.CANCELLED, JobStatus.COMPLETED, False),
        (JobStatus.FAILED, JobStatus.PENDING, False),
        (JobStatus.COMPLETED, JobStatus.CANCELLED, False),
    ],
)
def test_transitions(current: JobStatus, new: JobStatus, allowed: bool) -> None:
    assert can_transition(current, new) is allowed
    if not allowed:
        with pytest.raises(InvalidTransition):
            check_transition(current, new)


def test_final_states() -> None:
    assert {s for s in JobStatus if s.is_final} == {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }


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


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOTEXT_PORT", "4000")
    monkeypatch.setenv("AUDIOTEXT_EXECUTOR", "kubernetes")
    monkeypatch.setenv("AUDIOTEXT_DATABASE_URL", "postgresql://u:p@db/audiotext")
    s = Settings()
    assert s.port == 4000
    assert s.executor == "kubernetes"
    assert s.resolved_database_url == "postgresql+psycopg://u:p@db/audiotext"
    assert async_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"


def test_secrets_from_mounted_files(tmp_path: Path) -> None:
    (tmp_path / "AUDIOTEXT_WEBHOOK_SECRET").write_text("from-a-file")
    (tmp_path / "AUDIOTEXT_DATABASE_URL").write_text("postgresql://u:p@db/x")
    s = Settings(_secrets_dir=tmp_path)  # type: ignore[call-arg]
    assert s.webhook_secret.get_secret_value() == "from-a-file"
    assert s.resolved_database_url == "postgresql+psycopg://u:p@db/x"


def test_settings_from_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "audiotext.toml"
    config.write_text(
        'port = 4100\nexecutor = "kubernetes"\nmax_upload_bytes = 1234\n'
        'worker_node_selector = { "nvidia.com/gpu.present" = "true" }\n'
    )
    monkeypatch.setenv("AUDIOTEXT_CONFIG_FILE", str(config))
    monkeypatch.setenv("AUDIOTEXT_PORT", "4000")
    s = Settings()
    assert s.port == 4000, "the environment wins over the file"
    assert s.executor == "kubernetes" and s.max_upload_bytes == 1234
    assert s.worker_node_selector == {"nvidia.com/gpu.present": "true"}
    assert s.config_file == config
    assert Settings(max_upload_bytes=99).max_upload_bytes == 99, "arguments win too"
    monkeypatch.delenv("AUDIOTEXT_CONFIG_FILE")
    assert Settings().max_upload_bytes == 10 * 1024 * 1024
    assert Settings(config_file=config).max_upload_bytes == 1234


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is not a file"),
        ("max_uplod_bytes = 1\n", "unknown settings: max_uplod_bytes"),
        ("port = \n", "is not valid TOML"),
        ('port = "many"\n', "port"),
    ],
)
def test_a_bad_config_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, message: str
) -> None:
    config = tmp_path / "audiotext.toml"
    if content is not None:
        config.write_text(content)
    monkeypatch.setenv("AUDIOTEXT_CONFIG_FILE", str(config))
    with pytest.raises(ValueError, match=message):
        Settings()


def test_requested_formats_follow_the_resource_in_their_usual_order() -> None:
    assert requested_formats(None) == ("txt", "json", "srt", "vtt")
    assert requested_formats({}) == ("txt", "json", "srt", "vtt")
    assert requested_formats({"output_formats": ["vtt", "txt"]}) == ("txt", "vtt")
    assert requested_formats({"output_formats": ["srt", "pdf"]}) == ("srt",)
