"""Kueue's word on a waiting job, read from its Workload (pure)."""

from __future__ import annotations

from typing import Any

from audiotext.kube import constants as k
from audiotext.operator.queueing import owning_job, queued_changes, waiting_reason
from audiotext.operator.status import Observation, desired_status

NO_QUOTA = (
    "couldn't assign flavors to pod set main: insufficient unused quota for memory in flavor "
    "runner, 1Gi more needed"
)


def workload(*conditions: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "metadata": {
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": "talk-worker", "uid": "u"}
            ]
        },
        "status": {
            "conditions": [{"type": t, "status": s, "message": m} for t, s, m in conditions]
        },
    }


def test_a_workload_without_quota_says_so_until_it_is_admitted() -> None:
    assert waiting_reason(workload()) is None  # Kueue has not looked at it yet
    waiting = workload(("QuotaReserved", "False", NO_QUOTA))
    assert waiting_reason(waiting) == NO_QUOTA
    admitted = workload(("QuotaReserved", "True", "Quota reserved"), ("Admitted", "True", "ok"))
    assert waiting_reason(admitted) is None
    finished = workload(("QuotaReserved", "False", NO_QUOTA), ("Finished", "True", "done"))
    assert waiting_reason(finished) is None
    assert owning_job(waiting) == "talk-worker"
    assert owning_job({"metadata": {}}) is None


def test_a_preempted_workload_says_so_and_what_it_waits_for_now() -> None:
    preempted = "Preempted to accommodate a workload due to prioritization in the ClusterQueue"
    evicted = workload(("Evicted", "True", preempted), ("QuotaReserved", "True", "reserved"))
    assert waiting_reason(evicted) == preempted
    requeued = workload(("Evicted", "True", preempted), ("QuotaReserved", "False", NO_QUOTA))
    assert waiting_reason(requeued) == f"{preempted}; {NO_QUOTA}"


def test_only_a_queued_resource_shows_kueues_reason() -> None:
    queued = {"phase": k.PHASE_QUEUED, "message": "waiting for admission"}
    assert queued_changes(queued, NO_QUOTA) == {"message": NO_QUOTA}
    assert queued_changes({**queued, "message": NO_QUOTA}, NO_QUOTA) == {}
    assert queued_changes({"phase": k.PHASE_RUNNING, "message": ""}, NO_QUOTA) == {}


def test_the_jobs_own_news_keeps_kueues_reason_while_it_waits() -> None:
    current = {"phase": k.PHASE_QUEUED, "message": NO_QUOTA, "attempts": 0}
    still = Observation(k.PHASE_QUEUED, k.REASON_QUEUED, "waiting for admission", 0)
    assert desired_status(current, still, "now")["message"] == NO_QUOTA
    running = Observation(k.PHASE_RUNNING, k.REASON_STARTED, "attempt 1 running", 1)
    assert desired_status(current, running, "now")["message"] == "attempt 1 running"
