"""A small HTTP/1.1 keep-alive load generator, run as its own process.

    python bench/benchkit/load.py --port P --path /api/v1/job/status/ID \
        --connections 16 --duration 10 --max-requests 100000

Each connection sends a request, reads the whole response, and sends the next (closed loop).
Prints one JSON object: requests, seconds, requests_per_second, latency percentiles (ms),
status counts and errors. Plain sockets rather than a full client library, so the generator
costs far less CPU than the server it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter


async def connection(
    host: str,
    port: int,
    request: bytes,
    stop_at: float,
    budget: list[int],
    latencies: list[float],
    statuses: Counter[int],
    errors: list[str],
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        errors.append(f"connect: {exc}")
        return
    try:
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lower = name.lower()
                if lower == b"content-length":
                    length = int(value)
                elif lower == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            elif length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses[status] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run(args: argparse.Namespace) -> dict[str, object]:
    request = (
        f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
        "Accept: application/json\r\nUser-Agent: audiotext-bench\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    if args.warmup > 0:
        warm_until = time.perf_counter() + args.warmup
        await asyncio.gather(
            *(
                connection(args.host, args.port, request, warm_until, [10**9], [], Counter(), [])
                for _ in range(args.connections)
            )
        )
    started = time.perf_counter()
    budget = [args.max_requests]
    await asyncio.gather(
        *(
            connection(
                args.host,
                args.port,
                request,
                started + args.duration,
                budget,
                latencies,
                statuses,
                errors,
            )
            for _ in range(args.connections)
        )
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "requests_per_second": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p90_ms": percentile(ordered, 0.90) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] * 1000) if ordered else 0.0,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": errors[:5],
        "error_count": len(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    args = parser.parse_args()
    try:
        import uvloop

        result = uvloop.run(run(args))
    except ImportError:
        result = asyncio.run(run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
