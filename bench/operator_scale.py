"""Operator scale: TranscriptionJob created → worker Job created, steady and in a burst.

    python bench/operator_scale.py [--count 1000] [--rate 20] [--concurrency 32] [--postgres]
                                   [--kueue] [--quick]

Needs the test cluster (``make cluster-up``); without it the script says so and exits 0.
In a namespace of its own it starts ``audiotext operator`` (a child process watching only that
namespace, a SQLite file or with --postgres a private PostgreSQL), then creates ``count``
TranscriptionJobs at ``rate`` per second and ``count`` more all at once (``concurrency``
creates in flight). The workers land on the kwok node cpu-node-0, where pods "complete"
within a second without running anything, so every resource goes through the operator's
whole path (row, Job, Job events, status) and ends Failed/NoResult: no worker wrote a result.

Latency is the create call's return → a separate watching process (benchkit/kube_watch.py)
seeing the Job. Baseline, same run, same watch: Jobs this process creates directly through the
API (the operator's own Job manifest, suspended so they start no pods), at the same rate and
in the same burst: the API server's round trip plus watch delivery. Memory: the operator's
VmRSS at idle after start-up, its peak (sampled every 100 ms) and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchkit.kube_batches import (
    Batch,
    api_client,
    create_batch,
    kueue_queue,
    namespace_for_bench,
    release_resources,
)
from benchkit.kube_operator import (
    FINAL,
    KUBECONFIG,
    NODE,
    Operator,
    Watcher,
    cluster_up,
    pct,
)
from benchkit.processes import servers_module
from benchkit.report import Row, fmt, print_table

from audiotext.config import Settings
from audiotext.kube import constants as k
from audiotext.operator.builders import job_name

TARGET_P99_MS = 1000.0
TARGET_WALL_S_PER_1000 = 60.0


@dataclass
class Result:
    count: int
    batches: dict[str, Batch]
    watcher: Watcher
    rss_start: int
    rss_peak: int
    rss_end: int
    rss_samples: int
    waited_out: list[str]


def run_phase(
    label: str,
    names: list[str],
    raw: bool,
    rate: float | None,
    args: argparse.Namespace,
    namespace: str,
    watcher: Watcher,
    operator: Operator,
    settings: Settings,
    waited_out: list[str],
    queue: str | None = None,
) -> Batch:
    batch = Batch(label, names)
    queue = args.queue if queue is None else queue
    cpu_before = operator.cpu_seconds()

    async def go() -> None:
        async with await api_client(args.concurrency + 4) as api:
            await create_batch(api, namespace, batch, raw, rate, args.concurrency, settings, queue)

    asyncio.run(go())
    jobs = [job_name(n) for n in batch.created]
    if not watcher.wait_jobs(jobs, args.timeout):
        missing = sum(j not in watcher.jobs for j in jobs)
        waited_out.append(f"{label}: {missing} Jobs not seen after {args.timeout:.0f} s")
    # Quiet again before the next phase: every resource through to its final phase.
    if not raw and not watcher.wait_final(list(batch.created), args.settle):
        missing = sum(watcher.final_at(n) is None for n in batch.created)
        waited_out.append(f"{label}: {missing} resources not final after {args.settle:.0f} s more")
    batch.cpu_seconds = operator.cpu_seconds() - cpu_before
    print(
        f"  {label}: {len(batch.created)} created, {len(batch.errors)} errors, "
        f"operator CPU {batch.cpu_seconds:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return batch


def run(args: argparse.Namespace, workdir: Path, database_url: str) -> Result:
    settings = Settings(
        worker_device="cpu", worker_cpu_node_selector={"kubernetes.io/hostname": NODE}
    )
    n = args.count
    with namespace_for_bench() as namespace:
        print(f"namespace {namespace}, {n} resources per phase", file=sys.stderr, flush=True)
        operator = Operator(namespace, workdir, database_url)
        operator.migrate()
        watcher = Watcher(namespace, FINAL | ({k.PHASE_QUEUED} if args.queue else set()))
        try:
            operator.start()
            waited_out: list[str] = []
            # Warm-up: one of each, so connections, caches and the operator's watches are
            # all open before anything is timed.
            run_phase(
                "warm-up raw", ["warm-raw"], True, None, args, namespace, watcher, operator,
                settings, waited_out,
            )  # fmt: skip
            run_phase(
                "warm-up operator", ["warm-op"], False, None, args, namespace, watcher, operator,
                settings, waited_out,
            )  # fmt: skip
            time.sleep(2)
            rss_start = operator.rss()
            operator.peak = rss_start
            batches: dict[str, Batch] = {}
            plan = [
                ("raw steady", "rs", True, args.rate),
                ("operator steady", "os", False, args.rate),
                ("raw burst", "rb", True, None),
                ("operator burst", "ob", False, None),
            ]
            for label, prefix, raw, rate in plan:
                names = [f"{prefix}-{i:05d}" for i in range(n)]
                batches[label] = run_phase(
                    label, names, raw, rate, args, namespace, watcher, operator, settings,
                    waited_out,
                )  # fmt: skip
            if args.kueue:
                with kueue_queue(namespace) as queue:
                    names = [f"kb-{i:05d}" for i in range(n)]
                    batches["Kueue burst"] = run_phase(
                        "Kueue burst", names, False, None, args, namespace, watcher, operator,
                        settings, waited_out, queue,
                    )  # fmt: skip
            time.sleep(2)
            rss_end = operator.rss()
            result = Result(
                n,
                batches,
                watcher,
                rss_start,
                max(operator.peak, rss_end),
                rss_end,
                operator.samples,
                waited_out,
            )
            print("cleaning up", file=sys.stderr, flush=True)
            release_resources(namespace, operator)
            return result
        finally:
            operator.stop()
            watcher.close()


def report(args: argparse.Namespace, result: Result) -> None:
    b, w, n = result.batches, result.watcher, result.count
    rs, os_, rb, ob = (
        b[x] for x in ("raw steady", "operator steady", "raw burst", "operator burst")
    )
    steady, steady_raw = os_.latencies(w), rs.latencies(w)
    burst, burst_raw = ob.latencies(w), rb.latencies(w)
    p99 = pct(steady, 0.99)
    wall_target = TARGET_WALL_S_PER_1000 * n / 1000
    burst_wall, burst_wall_raw = ob.wall(w), rb.wall(w)
    mb = 2**20

    def pair(values: list[float]) -> str:
        return f"{fmt(pct(values, 0.5))} / {fmt(pct(values, 0.99))}"

    errors = sum(len(x.errors) for x in b.values())
    rows = [
        Row(
            f"steady {args.rate:g}/s: created → Job seen, p50 / p99 (ms)",
            pair(steady_raw),
            pair(steady),
            fmt(p99 / pct(steady_raw, 0.99)) if steady_raw else "-",
            f"p99 < {TARGET_P99_MS:.0f}",
            p99 < TARGET_P99_MS and len(steady) == n,
        ),
        Row(
            f"burst of {n:,}: created → Job seen, p50 / p99 (ms)",
            pair(burst_raw),
            pair(burst),
            fmt(pct(burst, 0.99) / pct(burst_raw, 0.99)) if burst_raw else "-",
            "-",
            None,
        ),
        Row(
            f"burst of {n:,}: first create → last Job seen (s)",
            fmt(burst_wall_raw),
            fmt(burst_wall),
            fmt(burst_wall / burst_wall_raw) if burst_wall and burst_wall_raw else "-",
            f"< {wall_target:g}" + ("" if n == 1000 else " (60 s per 1,000)"),
            burst_wall is not None and burst_wall < wall_target,
        ),
        Row(
            f"steady {args.rate:g}/s: first create → last Job seen (s)",
            fmt(rs.wall(w)),
            fmt(os_.wall(w)),
            "-",
            "-",
            None,
        ),
        Row(
            "created → resource final (kwok: Failed/NoResult), steady p50 / p99 (ms)",
            "-",
            pair(os_.final_latencies(w)),
            "-",
            "-",
            None,
        ),
        Row(
            f"burst of {n:,}: first create → last resource final (s)",
            "-",
            fmt(ob.final_wall(w)),
            "-",
            "-",
            None,
        ),
        Row(
            "operator RSS (MB): idle after start → peak / end",
            fmt(result.rss_start / mb, 1),
            f"{fmt(result.rss_peak / mb, 1)} / {fmt(result.rss_end / mb, 1)}",
            fmt(result.rss_peak / result.rss_start) if result.rss_start else "-",
            "reported",
            None,
        ),
        Row(
            "operator CPU s: steady / burst phase",
            f"{fmt(rs.cpu_seconds, 1)} / {fmt(rb.cpu_seconds, 1)}",
            f"{fmt(os_.cpu_seconds, 1)} / {fmt(ob.cpu_seconds, 1)}",
            "-",
            "-",
            None,
        ),
        Row("create errors", "0", str(errors), "-", "0", errors == 0),
    ]
    kueue = b.get("Kueue burst")
    if kueue is not None:
        plain, queued = ob.admitted_wall(w), kueue.admitted_wall(w)
        rows.insert(
            3,
            Row(
                f"burst of {n:,} through Kueue: first create → last Job running (s)",
                fmt(plain),
                fmt(queued),
                fmt(queued / plain) if plain and queued else "-",
                "reported",
                None,
            ),
        )
    notes = [
        f"{n:,} TranscriptionJobs at {args.rate:g}/s, then {n:,} at once ({args.concurrency} "
        f"creates in flight), one `audiotext operator` on the namespace "
        f"({'PostgreSQL' if args.postgres else 'SQLite file'}, in-memory bus); worker pods on "
        f"the kwok node {NODE}. Baseline: the operator's Job manifest created directly "
        "(suspended), same rate, same burst, same watch. Latency: create call returned → "
        "a separate watching process saw the Job. Operator CPU is measured per phase up to "
        "the moment every resource of the phase is final (baseline column: the operator idle "
        f"while the raw Jobs were created). RSS sampled {result.rss_samples} times.",
    ]
    notes += [f"Waited out: {line}" for line in result.waited_out]
    first_errors = [e for x in b.values() for e in x.errors][:3]
    if first_errors:
        notes.append("First errors: " + "; ".join(first_errors))
    print_table("Operator: TranscriptionJob → Job", rows, notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="resources per phase")
    parser.add_argument("--rate", type=float, default=20.0, help="creates per second (steady)")
    parser.add_argument("--concurrency", type=int, default=32, help="creates in flight (burst)")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="wait per phase for the Jobs (s)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=120.0,
        help="then wait at most this long for the phase's resources to be final (s)",
    )
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--queue",
        default="",
        help="spec.queueName of the resources: their Jobs stay suspended (no pods), so only "
        "the create path is measured; resources settle in Queued",
    )
    parser.add_argument(
        "--kueue",
        action="store_true",
        help="one more burst through the cluster's Kueue (a queue with room for all): the "
        "time until every Job runs, against the operator burst without Kueue",
    )
    parser.add_argument("--quick", action="store_true", help="100 resources per phase")
    args = parser.parse_args()
    if args.quick:
        args.count = 100
    if not cluster_up():
        print(
            "\n### Operator: TranscriptionJob → Job\n\nNot measured: the test cluster is not "
            f"running (kubeconfig {KUBECONFIG}, node {NODE}); start it with `make cluster-up`.\n"
        )
        return 0
    with tempfile.TemporaryDirectory(prefix="audiotext-bench-") as tmp:
        if args.postgres:
            servers: Any = servers_module()
            with servers.PostgresServer() as pg:
                result = run(args, Path(tmp), pg.url)
        else:
            result = run(args, Path(tmp), f"sqlite:///{tmp}/operator.db")
    report(args, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
