"""Transcription speed under API load: a job's time while clients poll it or follow it.

    python bench/load_isolation.py [--quick] [--repeats 3]

One ``audiotext serve`` with its defaults (tiny.en, CPU int8, the local executor), model warm,
and a 2 min espeak-ng file. Baseline: raw faster-whisper in this process on the same file with
the same threads (beam 5, VAD on, word timestamps on, as the service decodes a job), run
alternately with each service run. Service time: the job's ``processing_time_seconds`` (decode,
transcribe, store), while

- nothing else asks anything (status read once a second);
- a client reads its status 20 times a second;
- 100 WebSocket clients follow it;

and, separately, the OpenAI endpoint's wall time with ``response_format=json`` (no word
timestamps) against raw faster-whisper without word timestamps. Target: ≤ 1.10 for each.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from benchkit import audio, report
from benchkit.processes import gateway
from benchkit.raw import openai_seconds, raw_transcriber
from benchkit.report import Row, fmt, print_table
from websockets.asyncio.client import connect

THREADS = 2
TARGET = 1.10


def submit(url: str, file: Path) -> str:
    response = httpx.post(
        f"{url}/api/v1/job/transcribe",
        files={"file": (file.name, file.read_bytes(), "audio/flac")},
        timeout=120,
    )
    response.raise_for_status()
    return str(response.json()["id"])


def poll_until_done(url: str, job_id: str, per_second: float) -> float:
    """Read the job's status ``per_second`` times a second until it is final; returns its
    processing time."""
    with httpx.Client(base_url=url, timeout=60) as client:
        while True:
            job = client.get(f"/api/v1/job/status/{job_id}").json()
            if job["status"] in ("completed", "failed", "cancelled"):
                if job["status"] != "completed":
                    raise RuntimeError(f"job {job_id} {job['status']}: {job['error_message']}")
                return float(job["processing_time_seconds"])
            time.sleep(1 / per_second)


async def follow(ws_url: str) -> None:
    async with connect(ws_url, open_timeout=60, max_queue=None) as socket:
        async for _ in socket:
            pass


def followed_by_sockets(url: str, job_id: str, count: int) -> float:
    ws_url = f"{url.replace('http', 'ws')}/api/v1/job/ws/{job_id}"

    async def everyone() -> None:
        await asyncio.gather(*(follow(ws_url) for _ in range(count)))

    thread = threading.Thread(target=asyncio.run, args=(everyone(),))
    thread.start()
    try:
        return poll_until_done(url, job_id, 1)
    finally:
        thread.join(timeout=120)


def main() -> int:
    repeats = report.repeats(__doc__)
    file = audio.speech(2)
    raw_words, raw_plain = raw_transcriber(THREADS), raw_transcriber(THREADS, words=False)
    loads: dict[str, Callable[[str, str], float]] = {
        "status read once a second": lambda url, job: poll_until_done(url, job, 1),
        "status read 20 times a second": lambda url, job: poll_until_done(url, job, 20),
        "100 WebSocket clients": lambda url, job: followed_by_sockets(url, job, 100),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in loads}
    times["OpenAI json, no load (raw without word timestamps)"] = []
    with tempfile.TemporaryDirectory() as tmp, gateway(Path(tmp)) as server:
        poll_until_done(server.url, submit(server.url, audio.jfk()), 2)  # load the model
        raw_plain(audio.jfk())
        for _ in range(repeats):
            for name, load in loads.items():
                baseline = raw_words(file)
                times[name].append((baseline, load(server.url, submit(server.url, file))))
            baseline = raw_plain(file)
            times["OpenAI json, no load (raw without word timestamps)"].append(
                (baseline, openai_seconds(server.url, file))
            )
    rows = []
    for name, pairs in times.items():
        base = statistics.median(b for b, _ in pairs)
        measured = statistics.median(m for _, m in pairs)
        rows.append(
            Row(name, fmt(base), fmt(measured), fmt(measured / base), f"≤ {TARGET:.2f}",
                measured / base <= TARGET)
        )  # fmt: skip
    print_table(
        f"A job's time under API load, 2 min speech, median of {repeats} (seconds)",
        rows,
        [f"file: {file.name}, {audio.duration(file):.0f} s; `audiotext serve` defaults"],
    )
    return report.exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
