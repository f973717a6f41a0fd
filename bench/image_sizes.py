"""Print the sizes of the AudioText images against their targets.

    python bench/image_sizes.py [--check]

Sizes are the uncompressed sizes podman reports for the images that
`make images` built (MB = 10**6 bytes). With --check, exit 1 when an image is
missing or over its target.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PODMAN = ROOT / ".images" / "podman"
MB = 1_000_000

# image -> (what it holds, target in MB or None)
TARGETS: dict[str, tuple[str, int | None]] = {
    "localhost/audiotext-api:dev": ("gateway", 300),
    "localhost/audiotext-operator:dev": ("operator", None),
    "localhost/audiotext-worker:dev": ("worker, CPU, tiny.en model included", 900),
}


def image_size(image: str) -> int | None:
    if not PODMAN.exists():
        return None
    run = subprocess.run(
        [str(PODMAN), "image", "inspect", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        return None
    size: int = json.loads(run.stdout)[0]["Size"]
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when over a target")
    args = parser.parse_args()

    rows = [("image", "holds", "size MB", "target MB", "")]
    failed = False
    for image, (holds, target) in TARGETS.items():
        size = image_size(image)
        if size is None:
            rows.append((image, holds, "missing", str(target or "-"), "run make images"))
            failed = True
            continue
        within = target is None or size <= target * MB
        failed |= not within
        verdict = "" if target is None else ("ok" if within else "OVER")
        rows.append((image, holds, f"{size / MB:.0f}", str(target or "-"), verdict))

    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
