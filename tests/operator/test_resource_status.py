"""Pure status logic: a batch/v1 Job's state → the TranscriptionJob's phase and conditions.

Every case is a Job status as the API server reports it; no cluster is needed.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from audiotext.db.models import TranscriptionJobRow
from audiotext.jobs.states import JobStatus
from audiotext.kube import constants as k
from audiotext.operator.status import (
    JOB_DELETED,
    NO_RESULT,
    Observation,
    cancelled_status,
    cancelling,
    desired_status,
    invalid_spec_status,
    job_failed,
    observe_deleted_job,
    observe_job,
    row_final_status,
    set_condition,
    settle,
    settle_with_row,
    status_changes,
    with_row,
)

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z", "2026-01-01T00:01:00Z"


def job(suspend: bool = False, **status: Any) -> dict[str, Any]:
    return {"spec": {"suspend": suspend}, "status": status}


def condition(type_: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastTransitionTime": T2,
    }


# --- set_condition -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "status", "reason", "message", "changed", "transition"),
    [
        ([], True, "Started", "", True, T1),  # a new condition
        ([("True", "Started", "")], True, "Started", "", False, T0),  # the same again
        ([("True", "Started", "")], True, "Retrying", "", True, T0),  # reason only: no flip
        ([("True", "Started", "")], True, "Started", "attempt 2", True, T0),
        ([("True", "Started", "")], False, "Completed", "", True, T1),  # a flip moves the time
    ],
)
def test_set_condition_says_whether_it_changed_anything(
    before: list[tuple[str, str, str]],
    status: bool,
    reason: str,
    message: str,
    changed: bool,
    transition: str,
) -> None:
    conditions: list[dict[str, Any]] = [
        {"type": "Running", "status": s, "reason": r, "message": m, "lastTransitionTime": T0}
        for s, r, m in before
    ]
    assert set_condition(conditions, "Running", status, reason, message, T1) is changed
    assert len(conditions) == 1
    (only,) = conditions
    assert only["status"] == ("True" if status else "False")
    assert (only["reason"], only["message"]) == (reason, message)
    assert only["lastTransitionTime"] == transition


def test_set_condition_leaves_other_types_alone() -> None:
    conditions = [{"type": "JobCreated", "status": "True", "reason": "JobCreated"}]
    assert set_condition(conditions, "Running", True, "Started", "", T1)
    assert [c["type"] for c in conditions] == ["JobCreated", "Running"]
    assert conditions[0] == {"type": "JobCreated", "status": "True", "reason": "JobCreated"}


# --- observe_job ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message", "phase", "reason", "attempts"),
    [
        (job(), None, k.PHASE_PENDING, k.REASON_JOB_CREATED, 0),
        (job(suspend=True), None, k.PHASE_QUEUED, k.REASON_QUEUED, 0),
        (job(active=1, startTime=T0), None, k.PHASE_RUNNING, k.REASON_STARTED, 1),
        (job(active=1, failed=1, startTime=T0), None, k.PHASE_RUNNING, k.REASON_RETRYING, 2),
        (job(failed=1, startTime=T0), None, k.PHASE_PENDING, k.REASON_RETRYING, 1),
        (
            job(succeeded=1, conditions=[condition("Complete")], completionTime=T2),
            None,
            k.PHASE_SUCCEEDED,
            k.REASON_COMPLETED,
            1,
        ),
        (  # Kubernetes 1.31+ says SuccessCriteriaMet before Complete
            job(succeeded=1, conditions=[condition("SuccessCriteriaMet")]),
            None,
            k.PHASE_SUCCEEDED,
            k.REASON_COMPLETED,
            1,
        ),
        (
            job(failed=2, succeeded=1, conditions=[condition("Complete")]),
            None,
            k.PHASE_SUCCEEDED,
            k.REASON_COMPLETED,
            3,
        ),
        (
            job(failed=1, conditions=[condition("Failed", "PodFailurePolicy", "exit 2")]),
            "not audio: cannot decode",
            k.PHASE_FAILED,
            k.REASON_BAD_INPUT,
            1,
        ),
        (  # FailureTarget comes first, while the last pods are still stopping
            job(failed=1, conditions=[condition("FailureTarget", "PodFailurePolicy")]),
            None,
            k.PHASE_FAILED,
            k.REASON_BAD_INPUT,
            1,
        ),
        (
            job(failed=3, conditions=[condition("Failed", "BackoffLimitExceeded", "limit")]),
            "the engine failed",
            k.PHASE_FAILED,
            k.REASON_BACKOFF_LIMIT,
            3,
        ),
        (
            job(
                active=0,
                failed=1,
                conditions=[condition("Failed", "DeadlineExceeded", "Job was active longer")],
            ),
            None,
            k.PHASE_FAILED,
            k.REASON_DEADLINE,
            1,
        ),
        (  # a suspended Job that already failed is failed, not queued
            job(suspend=True, conditions=[condition("Failed", "BackoffLimitExceeded")]),
            None,
            k.PHASE_FAILED,
            k.REASON_BACKOFF_LIMIT,
            1,
        ),
    ],
)
def test_a_jobs_state_maps_to_a_phase(
    body: dict[str, Any], message: str | None, phase: str, reason: str, attempts: int
) -> None:
    observation = observe_job(body, message)
    assert (observation.phase, observation.reason, observation.attempts) == (
        phase,
        reason,
        attempts,
    )
    assert observation.final is (phase in k.FINAL_PHASES)


@pytest.mark.parametrize(
    ("failure", "termination", "expected"),
    [
        (condition("Failed", "PodFailurePolicy", "container exit 2"), "cannot decode\n", "decode"),
        (condition("Failed", "PodFailurePolicy", "container exit 2"), None, "container exit 2"),
        (condition("Failed", "BackoffLimitExceeded", ""), "  ", "BackoffLimitExceeded"),
        (condition("Failed", "DeadlineExceeded", "active too long"), "killed", "deadline"),
    ],
)
def test_a_failure_explains_itself(
    failure: dict[str, Any], termination: str | None, expected: str
) -> None:
    observation = observe_job(job(failed=1, conditions=[failure]), termination)
    assert expected in observation.message
    assert observation.message == observation.message.strip()
    assert observation.completion_time == T2  # from the condition when the Job has none


# --- desired_status and status_changes -----------------------------------------------------


def test_a_running_job_sets_phase_attempts_start_and_conditions() -> None:
    current = {"phase": "Pending", "jobId": "j", "jobName": "j-worker", "progress": 0}
    before = copy.deepcopy(current)
    desired = desired_status(current, observe_job(job(active=1, startTime=T0)), T1)
    assert current == before  # pure: the input is untouched
    assert desired["phase"] == k.PHASE_RUNNING
    assert (desired["attempts"], desired["startTime"], desired["jobId"]) == (1, T0, "j")
    types = {c["type"]: c["status"] for c in desired["conditions"]}
    assert types == {k.CONDITION_JOB_CREATED: "True", k.CONDITION_RUNNING: "True"}


def test_the_first_start_time_is_kept_across_retries() -> None:
    first = desired_status({}, observe_job(job(active=1, startTime=T0)), T1)
    second = desired_status(first, observe_job(job(active=1, failed=1, startTime=T2)), T2)
    assert second["startTime"] == T0
    assert second["attempts"] == 2


@pytest.mark.parametrize(
    ("body", "condition_type", "phase"),
    [
        (
            job(succeeded=1, completionTime=T2, conditions=[condition("Complete")]),
            k.CONDITION_SUCCEEDED,
            k.PHASE_SUCCEEDED,
        ),
        (
            job(failed=1, conditions=[condition("Failed", "DeadlineExceeded")]),
            k.CONDITION_FAILED,
            k.PHASE_FAILED,
        ),
    ],
)
def test_a_final_state_stops_running_and_records_completion(
    body: dict[str, Any], condition_type: str, phase: str
) -> None:
    running = desired_status({}, observe_job(job(active=1, startTime=T0)), T1)
    final = desired_status(running, observe_job(body), T2)
    conditions = {c["type"]: c for c in final["conditions"]}
    assert final["phase"] == phase
    assert final["completionTime"] == T2
    assert conditions[k.CONDITION_RUNNING]["status"] == "False"
    assert conditions[k.CONDITION_RUNNING]["lastTransitionTime"] == T2
    assert conditions[condition_type]["status"] == "True"


@pytest.mark.parametrize(
    "body",
    [
        job(),
        job(suspend=True),
        job(active=1, startTime=T0),
        job(active=1, failed=1, startTime=T0),
        job(succeeded=1, completionTime=T2, conditions=[condition("Complete")]),
        job(failed=1, conditions=[condition("Failed", "PodFailurePolicy", "exit 2")]),
    ],
)
def test_observing_the_same_state_twice_patches_nothing(body: dict[str, Any]) -> None:
    """Kopf replays events; a replay must not write the status (or post an Event) again."""
    once = desired_status({"jobId": "j"}, observe_job(body, "said"), T1)
    assert status_changes({"jobId": "j"}, once)
    twice = desired_status(once, observe_job(body, "said"), T2)
    assert status_changes(once, twice) == {}


@pytest.mark.parametrize(
    ("current", "desired", "changes"),
    [
        ({}, {}, {}),
        ({"phase": "Running"}, {"phase": "Running"}, {}),
        ({"phase": "Pending"}, {"phase": "Running"}, {"phase": "Running"}),
        (
            {"phase": "Running", "progress": 5},
            {"phase": "Running", "progress": 40},
            {"progress": 40},
        ),
        ({"a": 1}, {"a": 1, "b": 2}, {"b": 2}),
    ],
)
def test_status_changes_holds_only_what_differs(
    current: dict[str, Any], desired: dict[str, Any], changes: dict[str, Any]
) -> None:
    assert status_changes(current, desired) == changes


# --- the database row ------------------------------------------------------------------------

SUCCEEDED = Observation(k.PHASE_SUCCEEDED, k.REASON_COMPLETED, "transcribed", 1, T0, T2)
RUNNING = Observation(k.PHASE_RUNNING, k.REASON_STARTED, "attempt 1 running", 1, T0)


@pytest.mark.parametrize(
    ("observation", "row_status", "row_error", "phase", "reason", "message"),
    [
        (SUCCEEDED, "completed", None, k.PHASE_SUCCEEDED, k.REASON_COMPLETED, "transcribed"),
        (SUCCEEDED, None, None, k.PHASE_SUCCEEDED, k.REASON_COMPLETED, "transcribed"),
        (SUCCEEDED, "cancelled", None, k.PHASE_SUCCEEDED, k.REASON_COMPLETED, "transcribed"),
        # A pod that exited 0 without running the worker (a simulated node, a wrong image).
        (SUCCEEDED, "pending", None, k.PHASE_FAILED, k.REASON_NO_RESULT, "without recording"),
        (SUCCEEDED, "processing", None, k.PHASE_FAILED, k.REASON_NO_RESULT, "without recording"),
        (SUCCEEDED, "failed", "engine crashed", k.PHASE_FAILED, k.REASON_NO_RESULT, "engine"),
        # Only a completed Job is checked: a running one has no result yet.
        (RUNNING, "processing", None, k.PHASE_RUNNING, k.REASON_STARTED, "attempt 1"),
    ],
)
def test_a_completed_job_succeeds_only_with_the_workers_result(
    observation: Observation,
    row_status: str | None,
    row_error: str | None,
    phase: str,
    reason: str,
    message: str,
) -> None:
    settled = settle_with_row(observation, row_status, row_error)
    assert (settled.phase, settled.reason) == (phase, reason)
    assert message in settled.message
    assert (settled.attempts, settled.start_time) == (observation.attempts, observation.start_time)
    assert settled.completion_time == observation.completion_time


# --- cancellation ------------------------------------------------------------------------


def test_cancelling_sets_the_phase_and_the_conditions() -> None:
    running = desired_status({"jobId": "j"}, observe_job(job(active=1, startTime=T0)), T1)
    cancelled = cancelled_status(running, T2)
    conditions = {c["type"]: c for c in cancelled["conditions"]}
    assert cancelled["phase"] == k.PHASE_CANCELLED
    assert cancelled["completionTime"] == T2
    assert conditions[k.CONDITION_CANCELLED]["status"] == "True"
    assert conditions[k.CONDITION_RUNNING]["status"] == "False"
    assert running["phase"] == k.PHASE_RUNNING  # pure
    assert status_changes(cancelled, cancelled_status(cancelled, T2)) == {}


# --- a Job deleted from outside --------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "phase", "reason"),
    [
        (job(active=1, startTime=T0), k.PHASE_FAILED, k.REASON_JOB_DELETED),
        (job(), k.PHASE_FAILED, k.REASON_JOB_DELETED),  # deleted before a pod started
        (job(True), k.PHASE_FAILED, k.REASON_JOB_DELETED),  # deleted while queued
        (job(failed=1, startTime=T0), k.PHASE_FAILED, k.REASON_JOB_DELETED),
        # It had finished: what it said stands.
        (job(succeeded=1, conditions=[condition("Complete")]), k.PHASE_SUCCEEDED, "Completed"),
        (
            job(failed=3, conditions=[condition("Failed", "BackoffLimitExceeded", "gave up")]),
            k.PHASE_FAILED,
            k.REASON_BACKOFF_LIMIT,
        ),
    ],
)
def test_a_deleted_job_that_had_not_finished_fails_its_resource(
    last: dict[str, Any], phase: str, reason: str
) -> None:
    observation = observe_deleted_job(last, T2)
    assert (observation.phase, observation.reason) == (phase, reason)
    if reason == k.REASON_JOB_DELETED:
        assert observation.message == JOB_DELETED
        assert observation.completion_time == T2
        status = desired_status({"phase": k.PHASE_RUNNING}, observation, T2)
        failed = {c["type"]: c for c in status["conditions"]}[k.CONDITION_FAILED]
        assert (failed["status"], failed["reason"]) == ("True", k.REASON_JOB_DELETED)


# --- final without a Job ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "error", "phase", "condition_type", "message"),
    [
        ("completed", None, k.PHASE_SUCCEEDED, k.CONDITION_SUCCEEDED, "transcribed"),
        ("failed", "no such object", k.PHASE_FAILED, k.CONDITION_FAILED, "no such object"),
        ("failed", None, k.PHASE_FAILED, k.CONDITION_FAILED, "failed"),
        ("cancelled", "cancelled", k.PHASE_CANCELLED, k.CONDITION_CANCELLED, "cancelled"),
    ],
)
def test_a_finished_row_finishes_its_resource(
    row: str, error: str | None, phase: str, condition_type: str, message: str
) -> None:
    current = {"jobId": "j"}
    status = row_final_status(current, row, error, T1)
    assert (status["phase"], status["message"], status["completionTime"]) == (phase, message, T1)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions[condition_type]["status"] == "True"
    assert conditions[condition_type]["reason"] == k.REASON_ALREADY_FINISHED
    assert k.CONDITION_JOB_CREATED not in conditions  # no Job was made
    assert (status.get("progress") == 100) == (phase == k.PHASE_SUCCEEDED)
    assert current == {"jobId": "j"}  # pure
    assert status_changes(status, row_final_status(status, row, error, T2)) == {}


def test_a_job_the_api_server_refuses_fails_with_invalid_spec() -> None:
    status = invalid_spec_status({"jobId": "j"}, 'Job.batch "x" is invalid: bad label', T1)
    assert status["phase"] == k.PHASE_FAILED
    assert status["message"] == 'the Job is invalid: Job.batch "x" is invalid: bad label'
    failed = {c["type"]: c for c in status["conditions"]}[k.CONDITION_FAILED]
    assert (failed["status"], failed["reason"]) == ("True", k.REASON_INVALID_SPEC)
    assert failed["message"] == status["message"]


def test_an_observation_is_final_only_in_a_final_phase() -> None:
    assert Observation(k.PHASE_CANCELLED, k.REASON_CANCELLED, "", 1).final
    assert not Observation(k.PHASE_QUEUED, k.REASON_QUEUED, "", 0).final


@pytest.mark.parametrize(
    ("conditions", "failed"),
    [
        ([], False),
        ([condition("Complete")], False),
        ([condition("Failed", "BackoffLimitExceeded")], True),
        ([condition("FailureTarget", "PodFailurePolicy")], True),
        ([{**condition("Failed"), "status": "False"}], False),
    ],
)
def test_a_job_has_failed_only_with_a_true_failure_condition(
    conditions: list[dict[str, Any]], failed: bool
) -> None:
    assert job_failed(job(conditions=conditions)) is failed


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({}, False),
        ({"annotations": {k.ANNOTATION_CANCEL: "true"}}, True),
        ({"annotations": {k.ANNOTATION_CANCEL: "false"}}, False),
        ({"deletionTimestamp": T1}, True),
    ],
)
def test_a_cancel_or_a_deletion_takes_the_job_away_on_purpose(
    metadata: dict[str, Any], expected: bool
) -> None:
    assert cancelling({"metadata": metadata}) is expected


def row(**fields: Any) -> TranscriptionJobRow:
    values: dict[str, Any] = {
        "id": "job-1",
        "status": JobStatus.PROCESSING,
        "progress": 40,
        "attempts": 2,
        "language": "en",
        "audio_duration_seconds": 11.0004,
        "error_message": None,
    }
    return TranscriptionJobRow(**{**values, **fields})


def test_settling_needs_a_row_only_for_a_completed_job() -> None:
    succeeded = observe_job(job(succeeded=1, conditions=[condition("Complete")]))
    running = observe_job(job(active=1))
    assert settle(running, None) == running
    assert settle(succeeded, None) == succeeded
    assert settle(succeeded, row(status=JobStatus.COMPLETED)) == succeeded
    failed = settle(succeeded, row())
    assert (failed.phase, failed.reason, failed.message) == (
        k.PHASE_FAILED,
        k.REASON_NO_RESULT,
        NO_RESULT,
    )


def test_the_row_brings_progress_language_duration_attempts_and_outputs() -> None:
    running = observe_job(job(active=1))
    shown = with_row({"phase": k.PHASE_RUNNING}, row(), running, {"txt": "s3://b/t.txt"})
    assert shown == {
        "phase": k.PHASE_RUNNING,
        "progress": 40,
        "language": "en",
        "audioDurationSeconds": 11.0,
        "attempts": 2,  # the worker counts runs the Job does not (deleted pods)
    }
    succeeded = observe_job(job(succeeded=1, conditions=[condition("Complete")]))
    done = with_row({}, row(status=JobStatus.COMPLETED), succeeded, {"txt": "s3://b/t.txt"})
    assert done["progress"] == 100 and done["outputs"] == {"txt": "s3://b/t.txt"}


def test_a_succeeded_job_shows_the_speakers_and_languages_its_row_found() -> None:
    succeeded = observe_job(job(succeeded=1, conditions=[condition("Complete")]))
    languages = [
        {"language": "de", "seconds": 30.5, "probability": 0.93},
        {"language": "fr", "seconds": 12.0, "probability": 0.71},
    ]
    found = row(status=JobStatus.COMPLETED, speakers=2, languages=languages)
    done = with_row({}, found, succeeded, {})
    assert done["speakers"] == 2 and done["languages"] == languages
    running = with_row({}, row(languages=languages), observe_job(job(active=1)), {})
    assert "languages" not in running  # known once the job is done


def test_an_indexed_job_says_how_far_its_shards_are() -> None:
    indexed = {
        "spec": {"completionMode": "Indexed", "completions": 8},
        "status": {"active": 2, "completedIndexes": "0-2,5", "failed": 1},
    }
    observed = observe_job(indexed)
    assert observed.shards == {"total": 8, "succeeded": 4, "running": 2, "failed": 0}
    status = desired_status({}, observed, T1)
    assert status["shards"] == observed.shards and status["shardsSucceeded"] == "4/8"
    indexed["status"] = {
        "completedIndexes": "0-6",
        "failedIndexes": "7",
        "conditions": [condition(k.JOB_FAILED, "FailedIndexes", "Job has failed indexes")],
    }
    failed = observe_job(indexed)
    assert failed.phase == k.PHASE_FAILED and failed.failed_shards == (7,)
    assert failed.message.startswith("shard 7 failed")
    assert observe_job(job(active=1)).shards is None  # one pod: no shards to show


def test_a_failed_shard_is_named_with_its_time_range() -> None:
    from audiotext.operator.stitching import failed_shards_message

    indexed = {
        "spec": {"completionMode": "Indexed", "completions": 4},
        "status": {
            "failedIndexes": "2",
            "conditions": [condition(k.JOB_FAILED, "FailedIndexes", "Job has failed indexes")],
        },
    }
    failed = observe_job(indexed)
    long = row(audio_duration_seconds=120.0, options={"sharding": {"shard_seconds": 30}})
    assert failed_shards_message(long, failed, 600) == (
        "shard 2 (60.0 to 90.0 s) failed: Job has failed indexes"
    )
