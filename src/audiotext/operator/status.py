"""Pure status logic: what a Job's state means for its TranscriptionJob, and what changed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from audiotext.jobs.states import JobStatus
from audiotext.kube import constants as k

Body = dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[Body], type_: str, status: bool, reason: str, message: str, now: str
) -> bool:
    """Set one condition in place; True when anything changed.

    The transition time moves only when the status flips, as the API conventions ask.
    """
    value = "True" if status else "False"
    for condition in conditions:
        if condition.get("type") == type_:
            changed = (
                condition.get("status") != value
                or condition.get("reason") != reason
                or condition.get("message") != message
            )
            if condition.get("status") != value:
                condition["lastTransitionTime"] = now
            condition.update(status=value, reason=reason, message=message)
            return changed
    conditions.append(
        {
            "type": type_,
            "status": value,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
        }
    )
    return True


@dataclass(frozen=True)
class Observation:
    """What a Job says about its TranscriptionJob."""

    phase: str
    reason: str
    message: str
    attempts: int
    start_time: str | None = None
    completion_time: str | None = None
    shards: Body | None = None  # an Indexed Job's: {total, succeeded, running, failed}
    failed_shards: tuple[int, ...] = ()  # the indexes that failed for good
    cause: str = ""  # a failed Indexed Job's own message, before the shards are named

    @property
    def final(self) -> bool:
        return self.phase in k.FINAL_PHASES


_FAILURE_REASONS = {
    "PodFailurePolicy": k.REASON_BAD_INPUT,
    "DeadlineExceeded": k.REASON_DEADLINE,
    "BackoffLimitExceeded": k.REASON_BACKOFF_LIMIT,
}


def observe_job(job: Body, termination_message: str | None = None) -> Observation:
    """Map a batch/v1 Job (and its last pod's termination message) to a phase; an Indexed
    Job (a sharded job) also says how far its shards are."""
    observation = _observe(job, termination_message)
    spec, status = job.get("spec") or {}, job.get("status") or {}
    if spec.get("completionMode") != "Indexed":
        return observation
    failed = indexes(status.get("failedIndexes"))
    shards = {
        "total": int(spec.get("completions") or 1),
        "succeeded": len(indexes(status.get("completedIndexes"))),
        "running": int(status.get("active") or 0),
        "failed": len(failed),
    }
    if observation.phase == k.PHASE_FAILED and failed:
        message = f"shard {', '.join(map(str, failed))} failed: {observation.message}"
        observation = replace(observation, message=message, cause=observation.message)
    return replace(observation, shards=shards, failed_shards=failed)


def indexes(ranges: str | None) -> tuple[int, ...]:
    """A Job's index list ("1,3-5") as the indexes it names."""
    found: list[int] = []
    for part in (ranges or "").split(","):
        if part.strip():
            first, _, last = part.partition("-")
            found.extend(range(int(first), int(last or first) + 1))
    return tuple(found)


def _observe(job: Body, termination_message: str | None) -> Observation:
    status = job.get("status") or {}
    true = _true_conditions(job)
    active = int(status.get("active") or 0)
    failed = int(status.get("failed") or 0)
    succeeded = int(status.get("succeeded") or 0)
    attempts = active + failed + succeeded
    start, end = status.get("startTime"), status.get("completionTime")
    if any(condition in true for condition in k.JOB_SUCCEEDED_CONDITIONS):
        return Observation(
            k.PHASE_SUCCEEDED, k.REASON_COMPLETED, "transcribed", max(attempts, 1), start, end
        )
    failure = true.get(k.JOB_FAILED) or true.get(k.JOB_FAILURE_TARGET)
    if failure is not None:
        reason = _FAILURE_REASONS.get(str(failure.get("reason")), str(failure.get("reason")))
        message = (termination_message or "").strip() or str(failure.get("message") or reason)
        if reason == k.REASON_DEADLINE:
            message = f"deadline exceeded: {failure.get('message') or 'the job ran too long'}"
        end = end or _transition(failure)
        return Observation(k.PHASE_FAILED, reason, message, max(attempts, 1), start, end)
    if (job.get("spec") or {}).get("suspend"):
        return Observation(k.PHASE_QUEUED, k.REASON_QUEUED, "waiting for admission", attempts)
    if active:
        reason = k.REASON_RETRYING if failed else k.REASON_STARTED
        message = f"attempt {attempts} running" + (f" after {failed} failed" if failed else "")
        return Observation(k.PHASE_RUNNING, reason, message, attempts, start)
    if failed:
        return Observation(
            k.PHASE_PENDING,
            k.REASON_RETRYING,
            f"{failed} attempts failed; retrying",
            attempts,
            start,
        )
    return Observation(k.PHASE_PENDING, k.REASON_JOB_CREATED, "waiting for a node", attempts)


def _true_conditions(job: Body) -> dict[str, Body]:
    conditions = (job.get("status") or {}).get("conditions") or []
    return {str(c.get("type")): c for c in conditions if c.get("status") == "True"}


def job_failed(job: Body) -> bool:
    """The Job failed for good (or is about to: FailureTarget), so its pods have stopped."""
    true = _true_conditions(job)
    return any(condition in true for condition in k.JOB_FAILED_CONDITIONS)


def cancelling(resource: Body) -> bool:
    """A cancel or the resource's own deletion: either takes its Job away on purpose."""
    meta = resource.get("metadata") or {}
    cancel = (meta.get("annotations") or {}).get(k.ANNOTATION_CANCEL) == "true"
    return cancel or bool(meta.get("deletionTimestamp"))


NO_RESULT = "the worker exited without recording a result"
_TRUSTED_ROWS = (None, JobStatus.COMPLETED, JobStatus.CANCELLED)


def settle_with_row(
    observation: Observation, row_status: str | None, row_error: str | None = None
) -> Observation:
    """A Job that completed although its worker recorded no result did not succeed.

    The worker marks the row completed before it exits 0, so a completed Job with a row in any
    other state means the pod never ran the worker (a simulated node, a wrong image). A row
    the gateway cancelled meanwhile, or no row at all, leaves the observation as it is.
    """
    if observation.phase != k.PHASE_SUCCEEDED or row_status in _TRUSTED_ROWS:
        return observation
    return replace(
        observation,
        phase=k.PHASE_FAILED,
        reason=k.REASON_NO_RESULT,
        message=row_error or NO_RESULT,
    )


def settle(observation: Observation, row: JobRow | None) -> Observation:
    """Only a completed Job is checked against the row: the worker records its own success."""
    if observation.phase != k.PHASE_SUCCEEDED or row is None:
        return observation
    return settle_with_row(observation, str(row.status), row.error_message)


def _transition(condition: Body) -> str | None:
    value = condition.get("lastTransitionTime")
    return str(value) if value else None


def desired_status(current: Body, observation: Observation, now: str) -> Body:
    """The whole status after an observation (current is not modified)."""
    status: Body = {
        **current,
        "phase": observation.phase,
        "attempts": observation.attempts,
        "message": observation.message,
    }
    if observation.shards:
        shards = observation.shards
        status["shards"] = shards
        status["shardsSucceeded"] = f"{shards['succeeded']}/{shards['total']}"  # SHARDS
    if observation.phase == current.get("phase") == k.PHASE_QUEUED and current.get("message"):
        status["message"] = current["message"]  # Kueue's word on the wait says more
    if observation.start_time:
        status["startTime"] = current.get("startTime") or observation.start_time
    if observation.completion_time:
        status["completionTime"] = observation.completion_time
    conditions = [dict(c) for c in current.get("conditions") or []]
    phase = observation.phase
    set_condition(conditions, k.CONDITION_JOB_CREATED, True, k.REASON_JOB_CREATED, "", now)
    set_condition(
        conditions,
        k.CONDITION_RUNNING,
        phase == k.PHASE_RUNNING,
        observation.reason,
        observation.message if phase == k.PHASE_RUNNING else "",
        now,
    )
    if phase == k.PHASE_SUCCEEDED:
        set_condition(conditions, k.CONDITION_SUCCEEDED, True, observation.reason, "", now)
    if phase == k.PHASE_FAILED:
        set_condition(
            conditions, k.CONDITION_FAILED, True, observation.reason, observation.message, now
        )
    status["conditions"] = conditions
    return status


_FINAL_CONDITIONS = {
    k.PHASE_SUCCEEDED: k.CONDITION_SUCCEEDED,
    k.PHASE_FAILED: k.CONDITION_FAILED,
    k.PHASE_CANCELLED: k.CONDITION_CANCELLED,
}


def finished_status(current: Body, phase: str, reason: str, message: str, now: str) -> Body:
    """A final status that no running Job reported: a cancel, a refused Job, a finished row."""
    conditions = [dict(c) for c in current.get("conditions") or []]
    set_condition(conditions, k.CONDITION_RUNNING, False, reason, "", now)
    set_condition(conditions, _FINAL_CONDITIONS[phase], True, reason, message, now)
    return {
        **current,
        "phase": phase,
        "message": message,
        "completionTime": current.get("completionTime") or now,
        "conditions": conditions,
    }


def cancelled_status(current: Body, now: str) -> Body:
    return finished_status(
        current, k.PHASE_CANCELLED, k.REASON_CANCELLED, "cancelled by a user", now
    )


def invalid_spec_status(current: Body, message: str, now: str) -> Body:
    """The API server refused the resource's Job (422): no attempt can succeed."""
    return finished_status(
        current, k.PHASE_FAILED, k.REASON_INVALID_SPEC, f"the Job is invalid: {message}", now
    )


_ROW_PHASES = {
    JobStatus.COMPLETED: (k.PHASE_SUCCEEDED, "transcribed"),
    JobStatus.FAILED: (k.PHASE_FAILED, "failed"),
    JobStatus.CANCELLED: (k.PHASE_CANCELLED, "cancelled"),
}


def row_final_status(current: Body, row_status: str, row_error: str | None, now: str) -> Body:
    """The status of a resource whose row had finished before the operator made a Job.

    No Job is made for it: the resource only takes the row's outcome.
    """
    phase, default = _ROW_PHASES[JobStatus(row_status)]
    message = (row_error or default) if phase == k.PHASE_FAILED else default
    status = finished_status(current, phase, k.REASON_ALREADY_FINISHED, message, now)
    if phase == k.PHASE_SUCCEEDED:
        status["progress"] = 100
    return status


JOB_DELETED = "the Job was deleted before it finished"


def observe_deleted_job(job: Body, now: str) -> Observation:
    """A Job deleted from outside: what it last said if it had finished, else a failure.

    A cancel deletes the Job too; the caller tells the two apart.
    """
    last = observe_job(job)
    if last.final:
        return last
    return Observation(
        k.PHASE_FAILED, k.REASON_JOB_DELETED, JOB_DELETED, last.attempts, last.start_time, now
    )


class ProgressRow(Protocol):
    """What the resource shows of a job's row while it runs (a whole row, or its progress
    columns)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> JobStatus: ...
    @property
    def progress(self) -> int: ...
    @property
    def language(self) -> str | None: ...
    @property
    def audio_duration_seconds(self) -> float | None: ...


class JobRow(ProgressRow, Protocol):
    """What a Job's observation is settled and completed with."""

    @property
    def attempts(self) -> int: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def speakers(self) -> int | None: ...
    @property
    def languages(self) -> list[dict[str, Any]] | None: ...


def progress_status(row: ProgressRow) -> Body:
    """The status fields that follow the row while the job runs."""
    status: Body = {"progress": row.progress}
    if row.language:
        status["language"] = row.language
    if row.audio_duration_seconds is not None:
        status["audioDurationSeconds"] = round(row.audio_duration_seconds, 3)
    return status


def with_row(status: Body, row: JobRow, observation: Observation, outputs: dict[str, str]) -> Body:
    """``status`` with what lives in the row the worker writes: progress, language, duration,
    and (once the Job succeeded) the artifacts' ``outputs``."""
    merged: Body = {**status, **progress_status(row)}
    # Pods that were deleted (a disruption) are not counted by the Job; the worker counts runs.
    merged["attempts"] = max(observation.attempts, row.attempts)
    if observation.phase == k.PHASE_SUCCEEDED:
        merged["progress"] = 100
        merged["outputs"] = outputs
        if row.speakers is not None:
            merged["speakers"] = row.speakers
        if row.languages:
            merged["languages"] = row.languages
    return merged


def status_changes(current: Body, desired: Body) -> Body:
    """Only the fields that differ: an empty dict means there is nothing to patch."""
    return {key: value for key, value in desired.items() if current.get(key) != value}
