"""The images' environment trimmer: which packages go into the zip, and that they import
from it with their bytecode and with source lines in logged tracebacks."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def slim_venv() -> ModuleType:
    spec = importlib.util.spec_from_file_location("slim_venv", ROOT / "hack/images/slim_venv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_pure_packages_are_zipped_and_import_from_the_zip(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    write(site / "purepkg" / "__init__.py", "from purepkg.inner import fail\n")
    write(site / "purepkg" / "inner.py", "def fail():\n    raise ValueError('from the zip')\n")
    write(site / "purepkg" / "py.typed")
    write(site / "purepkg" / "README.md", "docs")
    write(site / "withdata" / "__init__.py", "")
    write(site / "withdata" / "table.json", "{}")
    write(site / "namespaced" / "part.py", "")  # no __init__.py: a namespace package
    write(site / "purepkg-1.0.dist-info" / "METADATA", "Name: purepkg\n")

    zipped = slim_venv().zip_pure_packages(site)

    assert zipped == ["purepkg"]
    assert not (site / "purepkg").exists()
    assert (site / "withdata" / "table.json").exists() and (site / "namespaced").exists()
    assert (site / "pure-packages.pth").read_text().strip() == str(site / "pure-packages.zip")
    probe = (
        "import logging, sys, purepkg\n"
        "print(purepkg.__file__)\n"
        "try:\n    purepkg.fail()\n"
        "except ValueError:\n    logging.exception('logged')\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path[:0] = {[str(site / 'pure-packages.zip')]}\n{probe}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # The bytecode is what is imported (never compiled again at start-up) ...
    assert run.stdout.strip() == str(site / "pure-packages.zip" / "purepkg" / "__init__.pyc")
    # ... and a logged traceback shows the source line, read from the zip.
    assert "raise ValueError('from the zip')" in run.stderr, run.stderr
