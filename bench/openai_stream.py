"""OpenAI streaming: how soon the first words of a 60 s file arrive with ``stream=true``.

    python bench/openai_stream.py [--quick] [--repeats 3]

One ``audiotext serve`` with its defaults (tiny.en, CPU int8, VAD on, local executor) and a
warm model. Each repeat sends the file once with ``stream=true`` (timing the first
``transcript.text.delta`` and the ``transcript.text.done``) and once without (timing the
``json`` answer), alternating. Ratios: first delta ÷ the streamed request's total time
(target ≤ 0.30), and the streamed total ÷ the plain request (streaming must cost nothing).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from benchkit import audio, report
from benchkit.processes import gateway
from benchkit.raw import openai_seconds
from benchkit.report import Row, fmt, print_table

TARGET_FIRST = 0.30
TARGET_COST = 1.10


def streamed(url: str, file: Path) -> tuple[float, float, int]:
    """(seconds to the first delta, seconds to the done event, deltas) of one request."""
    started = time.perf_counter()
    first = None
    deltas = 0
    with (
        httpx.Client(timeout=600) as client,
        client.stream(
            "POST",
            f"{url}/v1/audio/transcriptions",
            files={"file": (file.name, file.read_bytes(), "audio/flac")},
            data={"model": "whisper-1", "stream": "true"},
        ) as response,
    ):
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if event["type"] == "transcript.text.delta":
                deltas += 1
                first = first if first is not None else time.perf_counter() - started
            elif event["type"] == "transcript.text.done":
                done = time.perf_counter() - started
                return (first if first is not None else done), done, deltas
    raise RuntimeError("the stream ended without transcript.text.done")


def main() -> int:
    repeats = report.repeats(__doc__)
    file = audio.speech(1)
    with tempfile.TemporaryDirectory() as tmp, gateway(Path(tmp)) as server:
        openai_seconds(server.url, audio.jfk())  # load the model
        firsts, dones, plains, counts = [], [], [], []
        for _ in range(repeats):
            first, done, count = streamed(server.url, file)
            firsts.append(first)
            dones.append(done)
            counts.append(count)
            plains.append(openai_seconds(server.url, file))
    first, done, base = (statistics.median(v) for v in (firsts, dones, plains))
    rows = [
        Row(
            "60 s speech: first delta s (baseline: the streamed request's total)",
            fmt(done),
            fmt(first),
            fmt(first / done),
            f"≤ {TARGET_FIRST:.2f}",
            first / done <= TARGET_FIRST,
        ),
        Row(
            "60 s speech: streamed total s (baseline: the same file without stream)",
            fmt(base),
            fmt(done),
            fmt(done / base),
            f"≤ {TARGET_COST:.2f}",
            done / base <= TARGET_COST,
        ),
        Row("deltas per request", "-", str(statistics.median(counts)), "-", "-", None),
    ]
    print_table(
        f"OpenAI streaming, median of {repeats}",
        rows,
        [f"file: {file.name}, {audio.duration(file):.0f} s; `audiotext serve` defaults"],
    )
    return report.exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
