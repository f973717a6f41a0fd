"""Service overhead and CPU throughput: a job through the local service vs raw faster-whisper.

    python bench/service_overhead.py [--quick] [--repeats 3] [--minutes 1 10 60] [--queued 3]

Both sides use the same file, model (tiny.en, bundled), compute type (int8), 2 threads, beam 5,
VAD on and word timestamps on (what the service computes for every job). The service side is the
real app in this process, driven through ``httpx.ASGITransport``: multipart upload → probe →
store → decode → transcribe → artifacts → completed, timed from the request to the final event,
with the model already warm. Raw and service runs alternate, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from benchkit import audio
from benchkit.raw import raw_transcriber
from benchkit.report import Row, fmt, print_table

from audiotext.api.app import create_app
from audiotext.config import Settings
from audiotext.db.migrate import upgrade
from audiotext.services.jobs import wait_for_final

THREADS = 2
TARGET_OVERHEAD = 1.10
TARGET_QUEUED = 1.05  # "no worse than back to back", with room for noise


class Service:
    def __init__(self, client: httpx.AsyncClient, app: Any) -> None:
        self.client = client
        self.app = app

    async def submit(self, file: Path) -> str:
        with file.open("rb") as f:
            response = await self.client.post(
                "/api/v1/job/transcribe", files={"file": (file.name, f, "audio/flac")}
            )
        response.raise_for_status()
        return str(response.json()["id"])

    async def wait(self, job_id: str) -> None:
        job = await wait_for_final(self.app.state.services.jobs, job_id, timeout=3600)
        if job.status.value != "completed":
            raise RuntimeError(f"job {job_id} ended {job.status.value}: {job.error_message}")

    async def run(self, file: Path) -> float:
        start = time.perf_counter()
        await self.wait(await self.submit(file))
        return time.perf_counter() - start


async def alternate(
    raw: Callable[[Path], float], service: Service, file: Path, repeats: int
) -> tuple[float, float]:
    """Median raw and service wall times, runs alternating."""
    raws, services = [], []
    for _ in range(repeats):
        raws.append(await asyncio.to_thread(raw, file))
        services.append(await service.run(file))
    return statistics.median(raws), statistics.median(services)


async def measure(args: argparse.Namespace, tmp: Path) -> tuple[list[Row], list[str]]:
    settings = Settings(
        data_dir=tmp / "data",
        cpu_threads=THREADS,
        compute_type="int8",
        model="tiny.en",
        vad_filter=True,
        beam_size=5,
        max_upload_bytes=512 * 2**20,
        local_concurrency=1,
    )
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    raw = await asyncio.to_thread(raw_transcriber, THREADS)
    app = create_app(settings)
    rows: list[Row] = []
    notes: list[str] = []
    timed: Callable[[Path, int], Awaitable[tuple[float, float]]]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench.local", timeout=600
        ) as client:
            service = Service(client, app)

            async def timed(file: Path, repeats: int) -> tuple[float, float]:
                return await alternate(raw, service, file, repeats)

            # Warm both models (loading is not what is measured).
            await timed(audio.jfk(), 1)

            raw_t, svc_t = await timed(audio.jfk(), args.repeats)
            rows.append(
                Row(
                    f"jfk.flac (11 s), median of {args.repeats}: wall time s",
                    fmt(raw_t),
                    fmt(svc_t),
                    fmt(svc_t / raw_t),
                    f"≤ {TARGET_OVERHEAD:.2f}",
                    svc_t / raw_t <= TARGET_OVERHEAD,
                )
            )
            for minutes in args.minutes:
                file = audio.speech(minutes)
                seconds = audio.duration(file)
                raw_t, svc_t = await timed(file, 1)
                rows.append(
                    Row(
                        f"{minutes} min speech: x real time (audio s ÷ wall s)",
                        fmt(seconds / raw_t, 1),
                        fmt(seconds / svc_t, 1),
                        fmt(svc_t / raw_t),
                        f"wall ratio ≤ {TARGET_OVERHEAD:.2f}",
                        svc_t / raw_t <= TARGET_OVERHEAD,
                    )
                )

            if args.queued > 1:
                file = audio.speech(1) if not args.quick else audio.jfk()
                back_to_back = 0.0
                for _ in range(args.queued):
                    back_to_back += await service.run(file)
                start = time.perf_counter()
                ids = [await service.submit(file) for _ in range(args.queued)]
                for job_id in ids:
                    await service.wait(job_id)
                queued = time.perf_counter() - start
                rows.append(
                    Row(
                        f"{args.queued} x {file.name}: total wall s, queued vs back to back",
                        fmt(back_to_back),
                        fmt(queued),
                        fmt(queued / back_to_back),
                        f"≤ {TARGET_QUEUED:.2f}",
                        queued / back_to_back <= TARGET_QUEUED,
                    )
                )
    notes.append(
        "Raw: `WhisperModel(tiny.en, cpu, int8, cpu_threads=2).transcribe(path, beam_size=5, "
        "vad_filter=True, word_timestamps=True)`, segments consumed. Service: multipart upload "
        "to the in-process app → completed event; local executor, concurrency 1, SQLite, "
        "local storage. Ratio column: service wall time ÷ raw wall time (queued row: queued ÷ "
        "back to back, both through the service)."
    )
    return rows, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of jfk.flac per side")
    parser.add_argument(
        "--minutes", type=int, nargs="*", default=[1, 10, 60], help="lengths of synthetic speech"
    )
    parser.add_argument("--queued", type=int, default=3, help="jobs in the queue test (0: skip)")
    parser.add_argument("--quick", action="store_true", help="jfk and 1 minute only")
    args = parser.parse_args()
    if args.quick:
        args.minutes = [1]
        args.repeats = min(args.repeats, 2)
    with tempfile.TemporaryDirectory(prefix="audiotext-bench-") as tmp:
        rows, notes = asyncio.run(measure(args, Path(tmp)))
    print_table("Service overhead and CPU throughput (tiny.en, int8, 2 threads, VAD)", rows, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
