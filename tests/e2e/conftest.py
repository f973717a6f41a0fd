"""Fixtures of the end-to-end tests: servers pods can reach, and AudioText deployed."""

from __future__ import annotations

from collections.abc import Iterator

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
