"""The models this server can serve without downloading anything: the configured default,
the ones shipped in Python packages (engine.bundled), those found in ``AUDIOTEXT_MODEL_DIR``,
and the names OpenAI clients send for the default. No engine is imported here (the gateway
has none)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from audiotext.config import Settings
from audiotext.engine.bundled import bundled_names

# Names that OpenAI clients send; they all mean "the configured default model".
OPENAI_ALIASES = (
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-transcribe-diarize",
)
# How faster-whisper names what it fetched into a download root (Hugging Face's cache).
_DOWNLOADED = "models--Systran--faster-whisper-"


@dataclass(frozen=True)
class ModelEntry:
    id: str
    created: int  # when its files were made (Unix time); 0 when unknown
    alias_of: str | None = None

    def public(self) -> dict[str, object]:
        """OpenAI's ``Model`` object."""
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": "audiotext"}


def available_models(settings: Settings) -> list[ModelEntry]:
    """Every model a request may name, the default first, then its aliases."""
    found: dict[str, int] = {settings.model: _created(_local_path(settings.model))}
    for name in bundled_names():
        found.setdefault(name, 0)
    for name, path in _model_dir_entries(settings.model_dir):
        found.setdefault(name, _created(path))
    entries = [ModelEntry(name, created) for name, created in found.items()]
    default = entries[0]
    entries += [ModelEntry(alias, default.created, default.id) for alias in OPENAI_ALIASES]
    return entries


def find_model(settings: Settings, name: str) -> ModelEntry | None:
    """The entry ``name`` stands for; None when this server cannot serve it."""
    for entry in available_models(settings):
        if entry.id == name:
            return entry
    return None


def _model_dir_entries(root: Path | None) -> list[tuple[str, Path]]:
    if root is None or not root.is_dir():
        return []
    entries = []
    for child in sorted(root.iterdir()):
        if (child / "model.bin").is_file():
            entries.append((child.name, child))  # a CTranslate2 model folder
        elif child.name.startswith(_DOWNLOADED) and any(child.glob("snapshots/*/model.bin")):
            entries.append((child.name[len(_DOWNLOADED) :], child))
        elif child.suffix == ".pt" and child.is_file():
            entries.append((child.stem, child))  # an openai-whisper checkpoint
    return entries


def _local_path(name: str) -> Path | None:
    return Path(name) if os.path.isdir(name) else None


def _created(path: Path | None) -> int:
    try:
        return int(path.stat().st_mtime) if path is not None else 0
    except OSError:
        return 0
