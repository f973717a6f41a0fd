"""Trim an image's virtual environment once its dependencies are installed (and pip is gone).

    /opt/venv/bin/python slim_venv.py

Run by the dependencies stage of every Dockerfile. It removes what no image runs: test suites,
type stubs, debug symbols of extension modules (the bundled libraries in ``*.libs`` are left as
they are: they are stripped already, and strip can break the patched ones), botocore's API
models except S3 and STS (web-identity credentials), the services AudioText uses.

Then it serves the pure-Python packages (nothing in them but ``.py`` files and documentation)
from one compressed zip on ``sys.path``, the way CPython's own embeddable distribution ships its
standard library: sources and bytecode compress about sevenfold, logged tracebacks still show
the source lines (zipimport reads them), and the bytecode is hash-based and unchecked, so it is
never recompiled at start-up. kubernetes_asyncio alone is 44 MB on disk and 6.5 MB zipped.
A package with anything else in it (data files, extension modules) stays on disk: it may
open files next to its modules.
"""

from __future__ import annotations

import py_compile
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

BOTOCORE_SERVICES = {"s3", "sts"}
PURE_SUFFIXES = {".py"}
# Markers and documentation: nothing a package runs reads them.
INERT_SUFFIXES = {".md", ".rst"}
INERT_NAMES = {"py.typed"}
ZIP_NAME = "pure-packages.zip"


def trim(site: Path) -> None:
    for tests in sorted(site.rglob("tests"), key=lambda p: len(p.parts), reverse=True):
        if tests.is_dir():
            shutil.rmtree(tests)
    for stub in site.rglob("*.pyi"):
        stub.unlink()
    extensions = [str(p) for p in site.rglob("*.so") if not any(".libs" in q for q in p.parts)]
    if extensions:
        subprocess.run(["strip", "--strip-debug", *extensions], check=True)
    models = site / "botocore" / "data"
    if models.is_dir():
        for service in models.iterdir():
            if service.is_dir() and service.name not in BOTOCORE_SERVICES:
                shutil.rmtree(service)


def _files(package: Path) -> list[Path]:
    return [p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def is_pure(entry: Path) -> bool:
    """A regular package holding Python sources and nothing else (but documentation)."""
    if not (entry.is_dir() and (entry / "__init__.py").is_file()):
        return False
    return all(
        p.suffix in PURE_SUFFIXES or p.suffix in INERT_SUFFIXES or p.name in INERT_NAMES
        for p in _files(entry)
    )


def zip_pure_packages(site: Path) -> list[str]:
    packages = sorted(p for p in site.iterdir() if is_pure(p))
    archive = site / ZIP_NAME
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
        for package in packages:
            for source in sorted(_files(package)):
                name = source.relative_to(site).as_posix()
                zipped.write(source, name)
                if source.suffix == ".py":
                    # zipimport reads bytecode next to its source (not from __pycache__).
                    compiled = str(source) + "c"
                    py_compile.compile(
                        str(source),
                        cfile=compiled,
                        dfile=str(archive / name),
                        doraise=True,
                        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                    )
                    zipped.write(compiled, name + "c")
            shutil.rmtree(package)
    (site / "pure-packages.pth").write_text(f"{archive}\n")
    return [p.name for p in packages]


def main() -> int:
    site = Path(sysconfig.get_path("purelib"))
    trim(site)
    zipped = zip_pure_packages(site)
    size = (site / ZIP_NAME).stat().st_size / 1e6
    print(f"{len(zipped)} pure-Python packages in {ZIP_NAME} ({size:.1f} MB): {' '.join(zipped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
