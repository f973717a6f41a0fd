"""The table every benchmark prints: metric, baseline, measured, ratio, target, verdict."""

from __future__ import annotations

import argparse
import os
import platform
from dataclasses import dataclass


@dataclass
class Row:
    metric: str
    baseline: str
    measured: str
    ratio: str
    target: str
    ok: bool | None  # None: informational, no target

    @property
    def verdict(self) -> str:
        if self.ok is None:
            return "-"
        return "pass" if self.ok else "FAIL"


def fmt(value: float | None, digits: int = 2, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def ratio(measured: float | None, baseline: float | None) -> float | None:
    if measured is None or not baseline:
        return None
    return measured / baseline


def machine() -> str:
    """One line describing where the numbers were taken."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def print_table(title: str, rows: list[Row], notes: list[str] | None = None) -> None:
    print(f"\n### {title}\n")
    print(f"_{machine()}_\n")
    header = ("metric", "baseline", "measured", "ratio", "target", "result")
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for r in rows:
        print(
            f"| {r.metric} | {r.baseline} | {r.measured} | {r.ratio} | {r.target} | {r.verdict} |"
        )
    for note in notes or []:
        print(f"\n{note}")
    print(flush=True)


def repeats(doc: str, default: int = 3) -> int:
    """How many repeats the command line asks for: ``--repeats N``, or 1 with ``--quick``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat")
    parser.add_argument("--repeats", type=int, default=default)
    args = parser.parse_args()
    return 1 if args.quick else int(args.repeats)


def exit_code(rows: list[Row]) -> int:
    """0 when no row failed its target."""
    return 0 if all(r.ok is not False for r in rows) else 1
