"""Settings from the environment, mounted secrets and config files (audiotext.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiotext.config import Settings, async_database_url


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
