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
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit.processes import AUDIOTEXT, ROOT, cpu_seconds, free_port, rss_bytes, servers_module
from benchkit.report import Row, fmt, print_table
from kubernetes_asyncio import client, config

from audiotext.config import Settings
from audiotext.kube import constants as k
from audiotext.operator.builders import build_job, job_name

BENCH = Path(__file__).resolve().parent
CLUSTER = ROOT / ".cluster"
KUBECONFIG = CLUSTER / "kubeconfig"
KUBECTL = CLUSTER / "bin" / "kubectl"
CRD = ROOT / "crds" / "transcriptionjobs.audiotext.io.yaml"
NODE = "cpu-node-0"  # kwok: pods never run, kwok moves them through their phases
TARGET_P99_MS = 1000.0
TARGET_WALL_S_PER_1000 = 60.0
FINAL = {k.PHASE_SUCCEEDED, k.PHASE_FAILED, k.PHASE_CANCELLED}


def kubectl(*args: str, input: str | None = None, check: bool = True) -> str:
    proc = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(KUBECONFIG), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def cluster_up() -> bool:
    if not (KUBECONFIG.exists() and KUBECTL.exists()):
        return False
    try:
        kubectl("get", "--raw", "/readyz")
        kubectl("get", "node", NODE)
    except (RuntimeError, subprocess.TimeoutExpired):
        return False
    return True


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


# --- the watching process -------------------------------------------------------------------


class Watcher:
    """benchkit/kube_watch.py on the namespace; sightings land in ``jobs`` and ``phases``."""

    def __init__(self, namespace: str, settled: set[str]) -> None:
        self.settled = settled  # the phases that end a resource's part in a phase of the run
        self.jobs: dict[str, float] = {}
        self.admitted: dict[str, float] = {}  # Job → first seen not suspended
        self.phases: dict[str, dict[str, float]] = {}
        self.changed = threading.Condition()
        self.process = subprocess.Popen(
            [
                sys.executable, str(BENCH / "benchkit" / "kube_watch.py"),
                "--kubeconfig", str(KUBECONFIG), "--namespace", namespace,
            ],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"the watch did not open: {line!r}")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            parts = line.split()
            with self.changed:
                if parts[0] == "J":
                    self.jobs[parts[1]] = float(parts[2])
                elif parts[0] == "A":
                    self.admitted[parts[1]] = float(parts[2])
                elif parts[0] == "P":
                    self.phases.setdefault(parts[1], {})[parts[2]] = float(parts[3])
                self.changed.notify_all()

    def wait(self, done: Any, timeout: float) -> bool:
        with self.changed:
            return bool(self.changed.wait_for(done, timeout))

    def wait_jobs(self, jobs: list[str], timeout: float) -> bool:
        return self.wait(lambda: all(j in self.jobs for j in jobs), timeout)

    def final_at(self, name: str) -> float | None:
        times = [t for phase, t in self.phases.get(name, {}).items() if phase in self.settled]
        return min(times) if times else None

    def wait_final(self, names: list[str], timeout: float) -> bool:
        return self.wait(lambda: all(self.final_at(n) is not None for n in names), timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- the operator process -------------------------------------------------------------------


class Operator:
    """``audiotext operator`` on one namespace; its VmRSS sampled every 100 ms."""

    def __init__(self, namespace: str, workdir: Path, database_url: str) -> None:
        self.health_port = free_port()
        self.log_path = workdir / "operator.log"
        # Nothing from the caller's AUDIOTEXT_* settings: only what this run sets.
        base = {key: v for key, v in os.environ.items() if not key.startswith("AUDIOTEXT_")}
        self.env = {
            **base,
            "AUDIOTEXT_DATA_DIR": str(workdir / "data"),
            "AUDIOTEXT_DATABASE_URL": database_url,
            "AUDIOTEXT_KUBECONFIG": str(KUBECONFIG),
            "AUDIOTEXT_OPERATOR_NAMESPACES": json.dumps([namespace]),
            "AUDIOTEXT_OPERATOR_HEALTH_PORT": str(self.health_port),
            "AUDIOTEXT_WORKER_IMAGE": "localhost/audiotext-worker:dev",
            "AUDIOTEXT_WORKER_DEVICE": "cpu",
            "AUDIOTEXT_WORKER_CPU_NODE_SELECTOR": json.dumps({"kubernetes.io/hostname": NODE}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def migrate(self) -> None:
        subprocess.run([str(AUDIOTEXT), "migrate"], env=self.env, check=True, capture_output=True)

    def start(self, timeout: float = 60) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(AUDIOTEXT), "operator"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the operator exited early:\n{self.log()}")
            try:
                url = f"http://127.0.0.1:{self.health_port}/healthz"
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"the operator was not ready after {timeout}s:\n{self.log()}")
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss_bytes(self.pid))
                self.samples += 1

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the operator process so far (all its threads)."""
        return cpu_seconds(self.pid)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        self._stop.set()
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# --- creating objects -----------------------------------------------------------------------


def resource_body(name: str, queue: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": k.API_VERSION,
        "kind": k.KIND,
        "metadata": {"name": name},
        "spec": {
            "audio": {"url": f"s3://bench/{name}.flac"},
            "model": "tiny.en",
            "device": "cpu",
            "nodeSelector": {"kubernetes.io/hostname": NODE},
        },
    }
    if queue:
        body["spec"]["queueName"] = queue
    return body


def raw_job_body(namespace: str, name: str, settings: Settings) -> dict[str, Any]:
    """The Job the operator would build, created directly: suspended, without the operator's
    label (so the operator leaves it alone), named as the operator would name it."""
    resource = resource_body(name)
    resource["metadata"]["namespace"] = namespace
    job = build_job(resource, str(uuid.uuid4()), settings)
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        labels.pop(k.LABEL_MANAGED_BY, None)
    job["spec"]["suspend"] = True
    return job


@dataclass
class Batch:
    """One phase: what was created when, and when its Jobs were seen."""

    label: str
    names: list[str]
    created: dict[str, float] = field(default_factory=dict)  # name → create call returned
    started: float = 0.0
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0

    def latencies(self, watcher: Watcher) -> list[float]:
        # The watch can see a Job a moment before the create call's response is read: 0.
        return [
            max(0.0, watcher.jobs[job_name(n)] - t)
            for n, t in self.created.items()
            if job_name(n) in watcher.jobs
        ]

    def wall(self, watcher: Watcher) -> float | None:
        seen = [watcher.jobs.get(job_name(n)) for n in self.names]
        if not seen or any(t is None for t in seen):
            return None
        return max(t for t in seen if t is not None) - self.started

    def admitted_wall(self, watcher: Watcher) -> float | None:
        """First create → the last of its Jobs running (admitted, where Kueue holds them)."""
        seen = [watcher.admitted.get(job_name(n)) for n in self.names]
        if not seen or any(t is None for t in seen):
            return None
        return max(t for t in seen if t is not None) - self.started

    def final_latencies(self, watcher: Watcher) -> list[float]:
        result = []
        for n, t in self.created.items():
            final = watcher.final_at(n)
            if final is not None:
                result.append(final - t)
        return result

    def final_wall(self, watcher: Watcher) -> float | None:
        final = [watcher.final_at(n) for n in self.names]
        if not final or any(t is None for t in final):
            return None
        return max(t for t in final if t is not None) - self.started


async def create_batch(
    api: client.ApiClient,
    namespace: str,
    batch: Batch,
    raw: bool,
    rate: float | None,
    concurrency: int,
    settings: Settings,
    queue: str = "",
) -> None:
    """Create the batch's objects: ``rate`` per second, or all at once when rate is None."""
    objects, jobs = client.CustomObjectsApi(api), client.BatchV1Api(api)
    gate = asyncio.Semaphore(concurrency)

    async def create(name: str) -> None:
        async with gate:
            try:
                if raw:
                    response = await jobs.create_namespaced_job(
                        namespace,
                        raw_job_body(namespace, name, settings),  # type: ignore[arg-type]
                        _preload_content=False,
                    )
                else:
                    response = await objects.create_namespaced_custom_object(
                        k.GROUP,
                        k.VERSION,
                        namespace,
                        k.PLURAL,
                        resource_body(name, queue),
                        _preload_content=False,
                    )
                body = await response.read()
                returned = time.monotonic()
                response.release()
            except Exception as exc:
                batch.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                return
            if 200 <= response.status < 300:
                batch.created[name] = returned
            else:
                batch.errors.append(f"{name}: HTTP {response.status} {body[:200]!r}")

    tasks = []
    batch.started = time.monotonic()
    for i, name in enumerate(batch.names):
        if rate:
            delay = batch.started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(create(name)))
    await asyncio.gather(*tasks)


async def api_client(pool: int) -> client.ApiClient:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(KUBECONFIG), client_configuration=configuration)
    configuration.connection_pool_maxsize = pool
    return client.ApiClient(configuration)


# --- the run --------------------------------------------------------------------------------


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


@contextlib.contextmanager
def namespace_for_bench() -> Iterator[str]:
    namespace = f"audiotext-bench-{uuid.uuid4().hex[:6]}"
    kubectl("apply", "-f", str(CRD))
    kubectl("wait", "--for=condition=Established", "crd/transcriptionjobs.audiotext.io")
    kubectl("create", "namespace", namespace)
    try:
        yield namespace
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@contextlib.contextmanager
def kueue_queue(namespace: str) -> Iterator[str]:
    """A LocalQueue whose ClusterQueue has room for every job, on the kwok node: Kueue's own
    cost, not a wait for quota."""
    flavor = f"bench-{namespace[-6:]}"
    ample = [{"name": r, "nominalQuota": "100000"} for r in ("cpu", "memory")]
    objects = [
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ResourceFlavor",
            "metadata": {"name": flavor},
            "spec": {"nodeLabels": {"kubernetes.io/hostname": NODE}},
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ClusterQueue",
            "metadata": {"name": flavor},
            "spec": {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": ["cpu", "memory"],
                        "flavors": [{"name": flavor, "resources": ample}],
                    }
                ],
            },
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "LocalQueue",
            "metadata": {"name": "bench", "namespace": namespace},
            "spec": {"clusterQueue": flavor},
        },
    ]
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    kubectl("apply", "-f", "-", input=listing)
    try:
        yield "bench"
    finally:
        kubectl("delete", "-f", "-", "--wait=false", input=listing, check=False)


def release_resources(namespace: str, operator: Operator) -> None:
    """Delete the resources while the operator runs (it removes its finalizers)."""
    kubectl("delete", "tj", "--all", "-n", namespace, "--wait=false", check=False)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        left = kubectl("get", "tj", "-n", namespace, "-o", "name", check=False).split()
        if not left:
            return
        time.sleep(2)
    operator.stop()
    # What is left would keep the namespace terminating for ever: drop the finalizers.
    for name in kubectl("get", "tj", "-n", namespace, "-o", "name", check=False).split():
        kubectl(
            "patch", name, "-n", namespace, "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}', check=False,
        )  # fmt: skip


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
