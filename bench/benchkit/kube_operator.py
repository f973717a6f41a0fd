"""The operator under test for the operator benchmark: the test cluster's kubectl, a watch of
Jobs in a process of its own, and ``audiotext operator`` as a child process with its memory."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from audiotext.kube import constants as k
from benchkit.processes import AUDIOTEXT, ROOT, cpu_seconds, free_port, rss_bytes

BENCH = Path(__file__).resolve().parents[1]  # bench/
CLUSTER = ROOT / ".cluster"
KUBECONFIG = CLUSTER / "kubeconfig"
KUBECTL = CLUSTER / "bin" / "kubectl"
CRD = ROOT / "crds" / "transcriptionjobs.audiotext.io.yaml"
NODE = "cpu-node-0"  # kwok: pods never run, kwok moves them through their phases
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
