"""`make cluster-down` leaves the machine as `make cluster-up` found it (issue 11).

Runs after every other test of the session (the cluster_lifecycle marker), since it stops
the cluster. When the session found a cluster already running, it compares a full
down → up → down cycle and starts the cluster again at the end, as it found it.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.cluster import LIFECYCLE_MARKER, Cluster, machine_snapshot

pytestmark = [pytest.mark.k8s, getattr(pytest.mark, LIFECYCLE_MARKER)]


def _differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    diff: dict[str, Any] = {}
    for key in before:
        if key == "processes":
            # Processes that were already running (another cluster user's) may stay.
            left = after[key] - before[key]
            if left:
                diff[key] = sorted(left)
        elif before[key] != after[key]:
            diff[key] = {"before": before[key], "after": after[key]}
    return diff


def test_cluster_down_restores_the_machine(k8s_cluster: Cluster) -> None:
    restart = False
    before = k8s_cluster.machine_before
    if before is None:
        # The session reused a running cluster: take the machine without it as "before".
        k8s_cluster.down()
        before = machine_snapshot()
        k8s_cluster.up()
        restart = True
    assert k8s_cluster.is_up()

    k8s_cluster.down()
    after = machine_snapshot()
    assert not k8s_cluster.kubeconfig.exists()
    try:
        assert _differences(before, after) == {}
        assert not after["processes"] - before["processes"]
    finally:
        if restart:
            k8s_cluster.up()
