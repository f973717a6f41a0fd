"""Many WebSocket clients following one job, run as its own process.

    python bench/benchkit/ws_clients.py --job ID --count 1000 --url ws://A --url ws://B

Opens ``count`` sockets spread over the URLs, prints ``ready`` once every socket has its first
message (the job's current state), then records each later message's delay (now minus the
``bench_sent`` wall-clock stamp the publisher puts in each event) until every socket is closed
or the time limit passes. Prints one JSON object with the latencies and per-client checks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from websockets.asyncio.client import connect


class Client:
    def __init__(self) -> None:
        self.first = asyncio.Event()
        self.progress: list[int] = []
        self.delays: list[float] = []
        self.final = False
        self.close_code: int | None = None
        self.error: str | None = None


async def follow(url: str, client: Client, stop_at: float) -> None:
    try:
        async with connect(url, open_timeout=60, max_queue=None, ping_interval=None) as ws:
            async for raw in ws:
                now = time.time()
                event: dict[str, Any] = json.loads(raw)
                if not client.first.is_set():
                    client.first.set()
                    continue
                sent = event.get("bench_sent")
                if isinstance(sent, (int, float)):
                    client.delays.append(now - sent)
                client.progress.append(int(event.get("progress", -1)))
                if event.get("status") in ("completed", "failed", "cancelled"):
                    client.final = True
                if time.monotonic() > stop_at:
                    break
            client.close_code = ws.close_code
    except Exception as exc:
        client.error = f"{type(exc).__name__}: {exc}"
    finally:
        client.first.set()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stop_at = time.monotonic() + args.timeout
    clients = [Client() for _ in range(args.count)]
    tasks = []
    for i, client in enumerate(clients):
        url = f"{args.url[i % len(args.url)]}/api/v1/job/ws/{args.job}"
        tasks.append(asyncio.create_task(follow(url, client, stop_at)))
        if i % 50 == 49:
            await asyncio.sleep(0.01)  # do not flood the listen backlog
    await asyncio.gather(*(c.first.wait() for c in clients))
    print("ready", flush=True)
    cpu_before = time.process_time()
    remaining = max(1.0, stop_at - time.monotonic())
    await asyncio.wait(tasks, timeout=remaining)
    cpu = time.process_time() - cpu_before
    for task in tasks:
        task.cancel()
    delays = sorted(d for c in clients for d in c.delays)
    return {
        "clients": len(clients),
        "messages": len(delays),
        "delays": delays,
        "progress": [c.progress for c in clients],
        "final": sum(c.final for c in clients),
        "close_1000": sum(c.close_code == 1000 for c in clients),
        "errors": [c.error for c in clients if c.error][:5],
        "error_count": sum(1 for c in clients if c.error),
        "cpu_seconds": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", action="append", required=True, help="ws://host:port (repeat)")
    parser.add_argument("--job", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--out", required=True, help="file for the JSON result")
    args = parser.parse_args()
    try:
        import uvloop

        result = uvloop.run(run(args))
    except ImportError:
        result = asyncio.run(run(args))
    with open(args.out, "w") as f:
        json.dump(result, f)
    sys.exit(0)


if __name__ == "__main__":
    main()
