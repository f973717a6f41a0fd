"""Fixtures of the end-to-end tests: servers pods can reach, and AudioText deployed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployment import Deployment, Servers, deploy, ensure_worker_image, start_servers
from support.cluster import Cluster


@pytest.fixture(scope="module")
def e2e_servers(k8s_cluster: Cluster) -> Iterator[Servers]:
    servers = start_servers(k8s_cluster.host_ip)
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="module")
def deployment(
    k8s_cluster: Cluster, e2e_servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    ensure_worker_image(k8s_cluster)
    yield from deploy(k8s_cluster, e2e_servers, tmp_path_factory.mktemp("e2e"))


@pytest.fixture(scope="session")
def very_long_speech(long_speech: Path) -> Path:
    """About seven minutes of speech (7 MB): a job surely still running when it is cancelled.

    The worker can finish the one-minute file within seconds of its pod starting, before a
    cancel request reaches the operator.
    """
    target = long_speech.with_name("very-long-speech.flac")
    if not target.exists():
        sox = shutil.which("sox")
        assert sox, "sox is needed for the long test audio"
        subprocess.run([sox, str(long_speech), str(target), "repeat", "5"], check=True)
    return target
