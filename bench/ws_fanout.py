"""WebSocket fan-out: many clients on one job across two gateway processes through Redis.

    python bench/ws_fanout.py [--clients 1000] [--events 20] [--rate 10] [--postgres] [--quick]

Two ``audiotext api`` processes share a database (a SQLite file, or PostgreSQL with --postgres)
and a private Redis. The clients (a separate process, benchkit/ws_clients.py) split over both
gateways and follow one running job; this process then publishes progress events on the bus
the way a worker does (``RedisBus.publish``: last state + ``job_updates:<id>``), each stamped
with its send time, and finally the completed state. Latency is publish → client receive.
The baseline is the same publisher with one subscriber reading Redis directly (no gateway).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from benchkit.processes import cpu_seconds, gateway, raise_open_files, servers_module
from benchkit.report import Row, fmt, print_table

from audiotext.bus.base import job_channel
from audiotext.bus.redis import RedisBus
from audiotext.config import async_database_url
from audiotext.db.migrate import upgrade
from audiotext.db.models import TranscriptionJobRow
from audiotext.db.repository import JobRepository
from audiotext.db.session import Database
from audiotext.jobs.schemas import JobPublic
from audiotext.jobs.states import JobStatus

BENCH = Path(__file__).resolve().parent
TARGET_P99_MS = 100.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] * 1000


async def create_job(database_url: str) -> JobPublic:
    database_url = async_database_url(database_url)
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    try:
        row = await JobRepository(db).add(
            TranscriptionJobRow(
                filename="fanout.flac",
                url="file:///nowhere/fanout.flac",
                status=JobStatus.PROCESSING,
                model="tiny.en",
                engine="faster-whisper",
                task="transcribe",
                progress=0,
                attempts=1,
                options={},
                callback_attempts=0,
            )
        )
        return JobPublic.of(row)
    finally:
        await db.close()


def events_of(job: JobPublic, count: int) -> list[dict[str, Any]]:
    base = job.event()
    events = []
    for i in range(1, count + 1):
        events.append({**base, "progress": min(99, i), "bench_seq": i})
    events.append(
        {**base, "status": "completed", "progress": 100, "result_text": "done", "bench_seq": 0}
    )
    return events


async def publish(redis_url: str, job_id: str, events: list[dict[str, Any]], rate: float) -> None:
    bus = RedisBus(redis_url)
    try:
        for event in events:
            event["update_date"] = datetime.now(UTC).isoformat()
            event["bench_sent"] = time.time()
            await bus.publish(job_id, event)
            await asyncio.sleep(1 / rate)
    finally:
        await bus.close()


async def direct_baseline(
    redis_url: str, job_id: str, events: list[dict[str, Any]], rate: float
) -> list[float]:
    """Publish → one plain Redis subscriber: the floor the gateways add to."""
    client = aioredis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(job_channel(job_id))
    delays: list[float] = []

    async def read() -> None:
        while len(delays) < len(events):
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                delays.append(time.time() - json.loads(message["data"])["bench_sent"])

    reader = asyncio.create_task(read())
    await publish(redis_url, job_id, [dict(e) for e in events], rate)
    await asyncio.wait_for(reader, 30)
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await client.aclose()
    return sorted(delays)


def run(args: argparse.Namespace, tmp: Path, redis_url: str, database_url: str) -> dict[str, Any]:
    env = {
        "AUDIOTEXT_REDIS_URL": redis_url,
        "AUDIOTEXT_DATABASE_URL": database_url,
        "AUDIOTEXT_STALE_JOB_SECONDS": "0",
    }
    out = tmp / "clients.json"
    with gateway(tmp / "gw-a", env) as a, gateway(tmp / "gw-b", env) as b:
        # Created once both gateways are up, so neither one's start-up recovery claims it.
        job = asyncio.run(create_job(database_url))
        events = events_of(job, args.events)
        baseline = asyncio.run(
            direct_baseline(redis_url, f"baseline-{job.id}", [dict(e) for e in events], args.rate)
        )
        clients = subprocess.Popen(
            [
                sys.executable, str(BENCH / "benchkit" / "ws_clients.py"),
                "--url", a.url.replace("http", "ws"), "--url", b.url.replace("http", "ws"),
                "--job", job.id, "--count", str(args.clients),
                "--timeout", str(args.timeout), "--out", str(out),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert clients.stdout is not None
            line = clients.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"clients did not get ready: {line!r}")
            connected = time.perf_counter()
            gateways_cpu = -sum(cpu_seconds(g.pid) for g in (a, b))
            asyncio.run(publish(redis_url, job.id, events, args.rate))
            clients.wait(timeout=args.timeout + 30)
            published = time.perf_counter() - connected
            gateways_cpu += sum(cpu_seconds(g.pid) for g in (a, b))
        finally:
            if clients.poll() is None:
                clients.kill()
                clients.wait()
    result: dict[str, Any] = json.loads(out.read_text())
    result["baseline"] = baseline
    result["expected"] = [e["progress"] for e in events]
    result["seconds"] = published
    result["gateways_cpu"] = gateways_cpu
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20, help="progress events before the final")
    parser.add_argument("--rate", type=float, default=10.0, help="events per second")
    parser.add_argument("--timeout", type=float, default=120.0, help="limit for the whole run")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--quick", action="store_true", help="200 clients, 10 events")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.events = 200, 10
    raise_open_files(4 * args.clients + 1024)
    servers: Any = servers_module()
    with (
        tempfile.TemporaryDirectory(prefix="audiotext-bench-") as tmp,
        servers.RedisServer() as redis,
    ):
        if args.postgres:
            with servers.PostgresServer() as pg:
                result = run(args, Path(tmp), redis.url, pg.url)
        else:
            result = run(args, Path(tmp), redis.url, f"sqlite:///{tmp}/shared.db")

    delays, baseline = result["delays"], result["baseline"]
    expected = result["expected"]
    dropped = sum(len(expected) - len(p) for p in result["progress"] if len(p) < len(expected))
    complete = sum(p == expected for p in result["progress"])
    out_of_order = sum(any(b <= a for a, b in itertools.pairwise(p)) for p in result["progress"])
    p99 = pct(delays, 0.99)
    rows = [
        Row(
            "update latency p50 / p99 (ms)",
            f"{fmt(pct(baseline, 0.5))} / {fmt(pct(baseline, 0.99))}",
            f"{fmt(pct(delays, 0.5))} / {fmt(p99)}",
            fmt(p99 / pct(baseline, 0.99)) if baseline else "-",
            f"p99 < {TARGET_P99_MS:.0f}",
            p99 < TARGET_P99_MS,
        ),
        Row(
            "max latency (ms)",
            fmt(baseline[-1] * 1000 if baseline else None),
            fmt(delays[-1] * 1000 if delays else None),
            "-",
            "-",
            None,
        ),
        Row(
            "clients with every event, in order",
            str(result["clients"]),
            str(complete),
            fmt(complete / result["clients"]),
            "all",
            complete == result["clients"],
        ),
        Row("events dropped", "0", str(dropped), "-", "0", dropped == 0),
        Row("clients out of order", "0", str(out_of_order), "-", "0", out_of_order == 0),
        Row(
            "closed with 1000 after the final state",
            str(result["clients"]),
            str(result["close_1000"]),
            "-",
            "all",
            result["close_1000"] == result["clients"],
        ),
        Row("client errors", "0", str(result["error_count"]), "-", "0", result["error_count"] == 0),
        Row(
            "CPU s while following: both gateways / the client process",
            "-",
            f"{fmt(result['gateways_cpu'])} / {fmt(result['cpu_seconds'])}",
            "-",
            "reported",
            None,
        ),
    ]
    database = "PostgreSQL" if args.postgres else "shared SQLite file"
    notes = [
        f"{result['clients']} clients over 2 gateway processes ({database}, Redis), "
        f"{len(expected)} events at {args.rate:g}/s, {result['messages']} messages "
        "timed. Baseline: one plain Redis subscriber in the publishing process.",
    ]
    if result["errors"]:
        notes.append("First errors: " + "; ".join(result["errors"]))
    print_table("WebSocket fan-out through Redis", rows, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
