"""Throughput and latency of ``GET /api/v1/job/status/{id}`` on one gateway process.

    python bench/api_status.py [--duration 8] [--connections 16] [--postgres] [--quick]

The gateway (``audiotext api``, one uvicorn process, SQLite by default) answers the status of a
completed job; the load comes from a separate process on loopback (benchkit/load.py, closed loop,
bounded by time and count). The baseline is a bare ASGI app on the same uvicorn stack answering
a job-sized JSON body, measured in the same run: the ratio is what AudioText adds per request.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from benchkit.processes import JFK, gateway, servers_module
from benchkit.report import Row, fmt, print_table

BENCH = Path(__file__).resolve().parent
TARGET_RPS = 3000.0
TARGET_P99_MS = 20.0


def load(port: int, path: str, args: argparse.Namespace) -> dict[str, Any]:
    run = subprocess.run(
        [
            sys.executable,
            str(BENCH / "benchkit" / "load.py"),
            "--port",
            str(port),
            "--path",
            path,
            "--connections",
            str(args.connections),
            "--duration",
            str(args.duration),
            "--max-requests",
            str(args.max_requests),
            "--warmup",
            str(args.warmup),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=args.duration + args.warmup + 60,
    )
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def multipart_job(url: str) -> str:
    """Start a job by uploading jfk.flac; return its id once it is completed."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="jfk.flac"\r\nContent-Type: audio/flac\r\n\r\n'
        ).encode()
        + JFK.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{url}/api/v1/job/transcribe",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        job_id = str(json.load(r)["id"])
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v1/job/status/{job_id}", timeout=10) as r:
            if json.load(r)["status"] in ("completed", "failed"):
                return job_id
        time.sleep(0.2)
    raise RuntimeError(f"job {job_id} did not finish")


def measure_gateway(
    name: str, data_dir: Path, env: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    with gateway(data_dir, env) as server:
        job_id = multipart_job(server.url)
        result = load(server.port, f"/api/v1/job/status/{job_id}", args)
    result["name"] = name
    return result


def rows_for(name: str, result: dict[str, Any], bare: dict[str, Any]) -> list[Row]:
    rps, p99 = result["requests_per_second"], result["p99_ms"]
    ok_statuses = result["statuses"].keys() <= {"200"} and not result["error_count"]
    return [
        Row(
            f"{name}: requests/s",
            fmt(bare["requests_per_second"], 0),
            fmt(rps, 0),
            fmt(rps / bare["requests_per_second"]),
            f"≥ {TARGET_RPS:,.0f}",
            rps >= TARGET_RPS and ok_statuses,
        ),
        Row(
            f"{name}: p50 / p99 latency (ms)",
            f"{fmt(bare['p50_ms'])} / {fmt(bare['p99_ms'])}",
            f"{fmt(result['p50_ms'])} / {fmt(p99)}",
            fmt(p99 / bare["p99_ms"]) if bare["p99_ms"] else "-",
            f"p99 < {TARGET_P99_MS:.0f}",
            p99 < TARGET_P99_MS and ok_statuses,
        ),
        Row(
            f"{name}: requests, non-200, errors",
            str(bare["requests"]),
            f"{result['requests']}, "
            f"{sum(v for k, v in result['statuses'].items() if k != '200')}, "
            f"{result['error_count']}",
            "-",
            "0 non-200, 0 errors",
            ok_statuses,
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per run")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--quick", action="store_true", help="3 s runs")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup = 3.0, 0.5

    results: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="audiotext-bench-") as tmp:
        root = Path(tmp)
        bare_argv = [
            sys.executable, "-m", "uvicorn", "benchkit.bare_app:app",
            "--app-dir", str(BENCH), "--host", "127.0.0.1", "--port", "{port}",
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        with gateway(root / "bare", argv=bare_argv) as bare_server:
            bare = load(bare_server.port, "/api/v1/job/status/x", args)
        results.append(("SQLite", measure_gateway("SQLite", root / "sqlite", {}, args)))
        if args.postgres:
            servers: Any = servers_module()
            with servers.PostgresServer() as pg:
                env = {"AUDIOTEXT_DATABASE_URL": pg.url}
                results.append(
                    ("PostgreSQL", measure_gateway("PostgreSQL", root / "pg", env, args))
                )

    rows: list[Row] = []
    for name, result in results:
        rows += rows_for(name, result, bare)
    print_table(
        "GET /api/v1/job/status/{id}, one gateway process",
        rows,
        [
            f"Load: {args.connections} keep-alive connections from a separate process, "
            f"{args.duration:.0f} s after {args.warmup:.0f} s of warm-up. Baseline: a bare ASGI "
            "app on the same uvicorn (httptools, uvloop) answering a job-sized JSON body.",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
