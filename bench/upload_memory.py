"""Gateway memory during a large upload: multipart to /api/v1/job/transcribe and a presigned PUT.

    python bench/upload_memory.py [--megabytes 500] [--quick]

One ``audiotext api`` process with the upload limit raised above the file's size receives a
WAV of about 500 MB (48 kHz stereo, ~43 minutes), streamed from disk by the client. The
gateway's resident memory (VmRSS from /proc) is sampled every 10 ms from before the request
until its response; the growth over the idle process is what the target bounds. The PUT runs
first; the multipart job is cancelled as soon as it is accepted, so no transcription runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from benchkit.audio import CACHE
from benchkit.processes import PeakRss, gateway
from benchkit.report import Row, fmt, print_table

MB = 1_000_000
TARGET_GROWTH_MB = 50.0


def big_wav(megabytes: int) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / f"upload-{megabytes}MB.wav"
    if not target.exists():
        seconds = megabytes * MB / (48_000 * 2 * 2)
        partial = CACHE / f".upload-{megabytes}MB.wav"
        subprocess.run(
            ["sox", "-n", "-r", "48000", "-c", "2", "-b", "16", str(partial),
             "synth", f"{seconds:.1f}", "sine", "440", "sine", "660", "vol", "0.3"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        partial.rename(target)
    return target


def measure(pid: int, action: Callable[[], int]) -> tuple[PeakRss, int, float]:
    time.sleep(0.5)  # let the idle process settle
    started = time.perf_counter()
    with PeakRss(pid) as rss:
        status = action()
    return rss, status, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=500, help="size of the upload")
    parser.add_argument("--quick", action="store_true", help="100 MB")
    args = parser.parse_args()
    if args.quick:
        args.megabytes = 100
    wav = big_wav(args.megabytes)
    size = wav.stat().st_size
    env = {
        "AUDIOTEXT_MAX_UPLOAD_BYTES": str(size + 10 * MB),
        "AUDIOTEXT_REQUEST_TIMEOUT_SECONDS": "600",
    }
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="audiotext-bench-") as tmp,
        gateway(Path(tmp), env) as server,
        httpx.Client(base_url=server.url, timeout=600) as client,
    ):
        # Warm the routes once, so first-request imports do not count as upload memory.
        client.get("/api/v1/job/read")

        def multipart() -> int:
            with wav.open("rb") as f:
                response = client.post(
                    "/api/v1/job/transcribe", files={"file": (wav.name, f, "audio/wav")}
                )
            if response.status_code == 202:
                client.delete(f"/api/v1/job/{response.json()['id']}")
            return response.status_code

        def presigned_put() -> int:
            upload = client.post(
                "/api/v1/audio/presigned-url",
                json={"filename": wav.name, "content_type": "audio/wav", "size": size},
            ).json()
            with wav.open("rb") as f:
                response = client.request(
                    upload["method"], upload["upload_url"], headers=upload["headers"], content=f
                )
            return response.status_code

        for name, action, expected in (
            ("presigned PUT (local storage)", presigned_put, 200),
            ("multipart POST /api/v1/job/transcribe", multipart, 202),
        ):
            rss, status, seconds = measure(server.pid, action)
            rows.append(
                Row(
                    f"{name}: RSS growth MB ({size / MB:.0f} MB in {seconds:.1f} s, HTTP {status})",
                    fmt(rss.start / MB, 0) + " idle",
                    fmt(rss.peak / MB, 0) + " peak",
                    fmt(rss.growth_mb, 1) + " MB",
                    f"growth < {TARGET_GROWTH_MB:.0f} MB",
                    rss.growth_mb < TARGET_GROWTH_MB and status == expected,
                )
            )
    print_table(
        "Gateway memory during a large upload",
        rows,
        [
            "Baseline: the gateway's RSS just before the upload; measured: its peak until the "
            "response. The ratio column gives the growth (peak - idle)."
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
