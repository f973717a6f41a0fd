"""Job states and the transitions between them."""

from __future__ import annotations

import enum

from audiotext.jobs.errors import InvalidTransition


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
# In the order a job passes through them.
UNFINISHED_STATES = (JobStatus.PENDING, JobStatus.PROCESSING)

# processing -> pending is a retry: the run was interrupted and the job is queued again.
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset(
        {JobStatus.PROCESSING, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.COMPLETED}
    ),
    JobStatus.PROCESSING: frozenset(
        {JobStatus.PENDING, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    """Whether a job in ``current`` may move to ``new`` (staying put is always allowed)."""
    return current == new or new in ALLOWED_TRANSITIONS[current]


def check_transition(current: JobStatus, new: JobStatus) -> None:
    if not can_transition(current, new):
        raise InvalidTransition(f"a {current.value} job cannot become {new.value}")
