"""Job state transitions (audiotext.jobs.states)."""

from __future__ import annotations

import pytest

from audiotext.jobs.errors import InvalidTransition
from audiotext.jobs.states import JobStatus, can_transition, check_transition


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (JobStatus.PENDING, JobStatus.PROCESSING, True),
        (JobStatus.PENDING, JobStatus.CANCELLED, True),
        (JobStatus.PROCESSING, JobStatus.COMPLETED, True),
        (JobStatus.PROCESSING, JobStatus.PENDING, True),
        (JobStatus.PROCESSING, JobStatus.PROCESSING, True),
        (JobStatus.COMPLETED, JobStatus.PROCESSING, False),
        (JobStatus.CANCELLED, JobStatus.COMPLETED, False),
        (JobStatus.FAILED, JobStatus.PENDING, False),
        (JobStatus.COMPLETED, JobStatus.CANCELLED, False),
    ],
)
def test_transitions(current: JobStatus, new: JobStatus, allowed: bool) -> None:
    assert can_transition(current, new) is allowed
    if not allowed:
        with pytest.raises(InvalidTransition):
            check_transition(current, new)


def test_final_states() -> None:
    assert {s for s in JobStatus if s.is_final} == {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }
