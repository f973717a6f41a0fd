"""Long recordings: peak memory of a transcription at 10 and 120 minutes, and what shards cost.

    python bench/long_audio.py [--quick] [--long-minutes 120]

Each row runs ``audiotext transcribe FILE`` in a child process (the path every job takes:
probe, decode, transcribe, stitch) with the defaults users get (tiny.en, int8, 2 threads,
``AUDIOTEXT_SHARD_SECONDS`` 600) on synthetic speech, and reads the child's peak resident
memory from the kernel. Baseline of the memory row: the same at 10 minutes; target: the long
file needs less than 100 MB more. The time row compares a 20-minute file (10 with ``--quick``)
in shards against the same file in one piece (sharding off), in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from benchkit.audio import speech
from benchkit.report import Row, exit_code, fmt, print_table

AUDIOTEXT = str(Path(sys.executable).parent / "audiotext")
TARGET_GROWTH_MB = 100.0


def transcribe(path: Path, **settings: str) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, text) of one ``audiotext transcribe`` child."""
    env = {
        **os.environ,
        "AUDIOTEXT_CPU_THREADS": "2",
        **{f"AUDIOTEXT_{k.upper()}": v for k, v in settings.items()},
    }
    started = time.perf_counter()
    child = subprocess.Popen(
        [AUDIOTEXT, "transcribe", str(path), "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    text = child.stdout.read()
    # Reaped here, not by Popen, to read this child's own peak memory.
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode:
        raise RuntimeError(f"audiotext transcribe {path} exited {child.returncode}")
    return seconds, usage.ru_maxrss / 1024, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 minutes instead of 120")
    parser.add_argument("--long-minutes", type=int, default=0)
    args = parser.parse_args()
    long_minutes = args.long_minutes or (40 if args.quick else 120)
    rows: list[Row] = []

    _, short_peak, _ = transcribe(speech(10))
    _, long_peak, _ = transcribe(speech(long_minutes))
    rows.append(
        Row(
            f"peak RSS MB: {long_minutes} min vs 10 min (shards of 600 s)",
            fmt(short_peak, 0),
            fmt(long_peak, 0),
            f"+{long_peak - short_peak:.0f} MB",
            f"< +{TARGET_GROWTH_MB:.0f} MB",
            long_peak - short_peak < TARGET_GROWTH_MB,
        )
    )

    minutes = 10 if args.quick else 20
    whole_s, whole_peak, whole_text = transcribe(speech(minutes), shard_seconds="0")
    shard_s, shard_peak, shard_text = transcribe(speech(minutes), shard_seconds="300")
    rows.append(
        Row(
            f"{minutes} min: wall s, shards of 300 s vs one piece",
            fmt(whole_s, 1),
            fmt(shard_s, 1),
            fmt(shard_s / whole_s),
            "-",
            None,
        )
    )
    rows.append(
        Row(
            f"{minutes} min: peak RSS MB, shards of 300 s vs one piece",
            fmt(whole_peak, 0),
            fmt(shard_peak, 0),
            fmt(shard_peak / whole_peak),
            "-",
            None,
        )
    )
    words_whole, words_shard = len(whole_text.split()), len(shard_text.split())
    rows.append(
        Row(
            f"{minutes} min: words, shards vs one piece",
            str(words_whole),
            str(words_shard),
            fmt(words_shard / max(1, words_whole), 3),
            "within 1 %",
            abs(words_shard - words_whole) <= 0.01 * words_whole,
        )
    )
    print_table("Long recordings (audiotext transcribe, tiny.en, CPU int8, 2 threads)", rows)
    return exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
