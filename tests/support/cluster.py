"""The test cluster as a pytest fixture: ``k8s_cluster`` (session scope).

It uses the same scripts as ``make cluster-up`` / ``make cluster-down``
(hack/cluster/up.sh, down.sh). A cluster that is already running is reused and left
running; otherwise the fixture starts one and tears it down at the end of the session.
A cluster that cannot start fails the test run: it never skips.

Load it with ``pytest_plugins = ["support.cluster"]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_HACK = REPO_ROOT / "hack" / "cluster"
CLUSTER_DIR = Path(os.environ.get("AUDIOTEXT_CLUSTER_DIR", REPO_ROOT / ".cluster"))

# Tests with this marker run after every other test of the session: they stop the cluster.
LIFECYCLE_MARKER = "cluster_lifecycle"

# Binaries whose processes belong to a test cluster.
CLUSTER_PROGRAMS = frozenset(
    {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
        "kubelet",
        "kwok",
        "coredns",
        "containerd",
        "containerd-shim-runc-v2",
        "pause",
    }
)
# iptables lines that belong to a test cluster.
CLUSTER_RULE = re.compile(r"KUBE-|AUDIOTEXT|atcni|10\.244\.|10\.96\.")


class ClusterError(RuntimeError):
    """A kubectl call or a cluster script failed."""


def _shell_vars(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(\S*)", line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


def _shell_array(path: Path, name: str) -> tuple[str, ...]:
    match = re.search(rf"^{name}=\((.*?)\)", path.read_text(), re.MULTILINE | re.DOTALL)
    if match is None:
        raise ValueError(f"{path} defines no array {name}")
    return tuple(match.group(1).split())


VERSIONS = _shell_vars(CLUSTER_HACK / "versions.env")
# What cluster-down restores, read from the script that restores it, so the test compares
# exactly that set.
WATCHED_SYSCTLS = _shell_array(CLUSTER_HACK / "lib.sh", "WATCHED_SYSCTLS")
FIXED_PATHS = _shell_array(CLUSTER_HACK / "lib.sh", "FIXED_PATHS")


@dataclass
class Cluster:
    """A running test cluster, and kubectl bound to its admin kubeconfig."""

    root: Path
    started_here: bool = False
    machine_before: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def kubectl(self) -> Path:
        return self.root / "bin" / "kubectl"

    @property
    def helm(self) -> Path:
        return self.root / "bin" / "helm"

    @property
    def host_ip(self) -> str:
        return (self.root / "host-ip").read_text().strip()

    @property
    def env(self) -> dict[str, str]:
        """Environment for a subprocess that should talk to this cluster."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl ARGS`` against the cluster; raise ClusterError when it fails."""
        proc = subprocess.run(
            [str(self.kubectl), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ClusterError(
                f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}"
            )
        return proc

    @contextlib.contextmanager
    def port_forward(
        self, namespace: str, target: str, remote_port: int
    ) -> Iterator[tuple[int, subprocess.Popen[str]]]:
        """``kubectl port-forward`` TARGET to a free loopback port: yields (port, process).

        The caller waits for what answers there; the forward stops on leaving the block.
        """
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        process = subprocess.Popen(
            [
                str(self.kubectl),
                "--kubeconfig",
                str(self.kubeconfig),
                "port-forward",
                "-n",
                namespace,
                "--address",
                "127.0.0.1",
                target,
                f"{port}:{remote_port}",
            ],
            stdout=subprocess.DEVNULL,  # a line per connection, never read
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield port, process
        finally:
            process.terminate()
            process.wait(timeout=10)

    def json(self, *args: str) -> Any:
        """``kubectl ARGS -o json``, parsed."""
        return json.loads(self.run(*args, "-o", "json").stdout)

    def apply(
        self,
        manifest: str | dict[str, Any] | Sequence[dict[str, Any]],
        namespace: str | None = None,
    ) -> None:
        """``kubectl apply`` a YAML/JSON text, one object, or a list of objects."""
        if isinstance(manifest, dict):
            text = json.dumps(manifest)
        elif isinstance(manifest, str):
            text = manifest
        else:
            text = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifest)})
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        self.run(*args, input=text)

    def wait_for(
        self, what: str, predicate: Any, timeout: float = 60, interval: float = 0.5
    ) -> Any:
        """Poll ``predicate()`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")

    def is_up(self) -> bool:
        if not (self.kubeconfig.exists() and self.kubectl.exists()):
            return False
        try:
            proc = self.run("get", "--raw", "/readyz", check=False, timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return proc.returncode == 0

    def up(self) -> None:
        """Start the cluster with hack/cluster/up.sh (what ``make cluster-up`` runs)."""
        _run_script("up.sh")

    def down(self) -> None:
        """Stop the cluster with hack/cluster/down.sh (what ``make cluster-down`` runs)."""
        _run_script("down.sh")


def _run_script(name: str) -> None:
    proc = subprocess.run(
        ["bash", str(CLUSTER_HACK / name)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    log_dir = CLUSTER_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / f"{name.removesuffix('.sh')}-script.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise ClusterError(f"hack/cluster/{name} exited {proc.returncode}:\n{tail}")


def machine_snapshot() -> dict[str, Any]:
    """What a test cluster may leave behind on this machine, for a before/after comparison.

    Scoped to what the cluster touches, so that other work on the machine (podman builds,
    test servers) does not show up as a difference.
    """
    processes = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            exe = os.readlink(proc / "exe")
        except OSError:
            continue
        if Path(exe).name in CLUSTER_PROGRAMS:
            processes.add((int(proc.name), Path(exe).name))
    cluster_roots = (
        str(CLUSTER_DIR.resolve()),
        "/run/containerd",
        "/var/lib/kubelet",
        "/run/netns",
    )
    mounts = {
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(cluster_roots)
    }
    links = subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, check=True
    ).stdout
    # The bridge and the pods' veths on it (other bridges, e.g. podman's, are not ours).
    interfaces = {
        m.group(1)
        for m in re.finditer(r"^\d+: ([^:@]+).*$", links, re.M)
        if m.group(1).startswith("atcni") or " master atcni" in m.group(0)
    }
    lo_addresses = subprocess.run(
        ["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True
    ).stdout.split()
    iptables: dict[str, list[str]] = {}
    for family in ("iptables", "ip6tables"):
        out = subprocess.run([f"{family}-save"], capture_output=True, text=True, check=False).stdout
        iptables[family] = [
            re.sub(r"\[\d+:\d+\]", "", line)
            for line in out.splitlines()
            if not line.startswith("#")
            and re.search(r"KUBE-|AUDIOTEXT|atcni|10\.244\.|10\.96\.", line)
        ]
    sysctls = {}
    for key in WATCHED_SYSCTLS:
        path = Path("/proc/sys") / key.replace(".", "/")
        if path.exists():
            sysctls[key] = path.read_text().strip()
    cgroups = {
        str(p)
        for p in Path("/sys/fs/cgroup").glob("*/*")
        if p.is_dir() and re.search(r"k8s\.io|kubepods|kubelet|^[0-9a-f]{64}$", p.name)
    }
    cgroups |= {str(p) for p in Path("/sys/fs/cgroup").glob("*/k8s.io/*") if p.is_dir()}
    return {
        "processes": processes,
        "mounts": mounts,
        "interfaces": interfaces,
        "lo_addresses": {a for a in lo_addresses if re.fullmatch(r"[\d.]+/\d+", a)},
        "iptables": iptables,
        "sysctls": sysctls,
        "cgroups": cgroups,
        "paths": {p for p in FIXED_PATHS if os.path.lexists(p)},
    }


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{LIFECYCLE_MARKER}: stops and restarts the test cluster; runs last",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that stop the cluster go last, so no other test finds it gone.
    items.sort(key=lambda item: item.get_closest_marker(LIFECYCLE_MARKER) is not None)


@pytest.fixture(scope="session")
def k8s_cluster() -> Iterator[Cluster]:
    """The test cluster: reused when already running, else started and stopped here."""
    cluster = Cluster(root=CLUSTER_DIR)
    if not cluster.is_up():
        try:
            _run_script("prepare.sh")  # packages and binaries, before the snapshot
        except (ClusterError, subprocess.TimeoutExpired) as exc:
            pytest.fail(f"the test cluster could not be built: {exc}", pytrace=False)
        cluster.machine_before = machine_snapshot()
        try:
            cluster.up()
        except (ClusterError, subprocess.TimeoutExpired) as exc:
            pytest.fail(f"the test cluster could not start: {exc}", pytrace=False)
        cluster.started_here = True
    yield cluster
    if cluster.started_here and os.environ.get("AUDIOTEXT_CLUSTER_KEEP") != "1":
        cluster.down()
