"""Names of the TranscriptionJob API: every string the gateway and the operator share."""

from __future__ import annotations

GROUP = "audiotext.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "TranscriptionJob"
PLURAL = "transcriptionjobs"
SHORT_NAME = "tj"
CATEGORY = "audiotext"

# Labels and annotations.
LABEL_JOB_ID = "audiotext.io/job-id"
LABEL_RESOURCE = "audiotext.io/transcriptionjob"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "audiotext-operator"
WORKER_COMPONENT = "worker"
ANNOTATION_CANCEL = "audiotext.io/cancel"
OPERATOR_ANNOTATION_DOMAIN = "operator.audiotext.io"  # the operator's own bookkeeping
# Kopf's own bookkeeping annotations. Kopf ignores every annotation under its prefix when it
# looks for changes, so it must not share ours: the cancel annotation would never be seen.
KOPF_PREFIX = f"operator.{GROUP}"
KUEUE_GROUP = "kueue.x-k8s.io"
KUEUE_VERSION = "v1beta2"
KUEUE_WORKLOADS = "workloads"
KUEUE_QUEUE_LABEL = f"{KUEUE_GROUP}/queue-name"
KUEUE_PRIORITY_LABEL = f"{KUEUE_GROUP}/priority-class"
KUEUE_JOB_UID_LABEL = f"{KUEUE_GROUP}/job-uid"  # on the Workload of a Job
# Kopf's finalizer: an unfinished resource keeps it, so deleting one cancels its row first.
FINALIZER = f"{OPERATOR_ANNOTATION_DOMAIN}/cancel-on-delete"

# GPU scheduling.
GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"

WORKER_CONTAINER = "worker"
WORKER_UID = 10001

# status.phase values.
PHASE_PENDING = "Pending"
PHASE_QUEUED = "Queued"
PHASE_RUNNING = "Running"
PHASE_SUCCEEDED = "Succeeded"
PHASE_FAILED = "Failed"
PHASE_CANCELLED = "Cancelled"
FINAL_PHASES = frozenset({PHASE_SUCCEEDED, PHASE_FAILED, PHASE_CANCELLED})

# status.conditions types (Kubernetes API conventions: True/False/Unknown with a reason).
CONDITION_JOB_CREATED = "JobCreated"
CONDITION_RUNNING = "Running"
CONDITION_SUCCEEDED = "Succeeded"
CONDITION_FAILED = "Failed"
CONDITION_CANCELLED = "Cancelled"

# Reasons, as shown by `kubectl describe tj`.
REASON_JOB_CREATED = "JobCreated"
REASON_QUEUED = "Queued"
REASON_STARTED = "Started"
REASON_RETRYING = "Retrying"
REASON_COMPLETED = "Completed"
REASON_BAD_INPUT = "BadInput"
REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
REASON_DEADLINE = "DeadlineExceeded"
REASON_CANCELLED = "Cancelled"
REASON_NO_RESULT = "NoResult"
REASON_INVALID_SPEC = "InvalidSpec"
REASON_JOB_DELETED = "JobDeleted"
REASON_ALREADY_FINISHED = "AlreadyFinished"
REASON_JOB_NAME_TAKEN = "JobNameTaken"
REASON_WORKER_STALLED = "WorkerStalled"
# Condition types the Job controller sets on a batch/v1 Job.
JOB_COMPLETE = "Complete"
JOB_SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"
JOB_FAILED = "Failed"
JOB_FAILURE_TARGET = "FailureTarget"
JOB_SUCCEEDED_CONDITIONS = (JOB_COMPLETE, JOB_SUCCESS_CRITERIA_MET)
JOB_FAILED_CONDITIONS = (JOB_FAILED, JOB_FAILURE_TARGET)
# The label the Job controller puts on the pods of a Job: the Job's name.
JOB_NAME_LABEL = "job-name"

# Where worker pods find the models of a mounted models claim (AUDIOTEXT_WORKER_MODELS_CLAIM).
WORKER_MODELS_PATH = "/models"

# spec.diarization's speaker counts, and the job options they are: (option, spec field).
DIARIZATION_COUNTS = (("min_speakers", "minSpeakers"), ("max_speakers", "maxSpeakers"))
# spec.sharding's fields, and the job options (under "sharding") they are.
SHARDING_FIELDS = (("shard_seconds", "shardSeconds"), ("max_parallel", "maxParallel"))
# spec.decoding's fields and spec.decoding.vad's, and the job options they are (jobs.decoding).
DECODING_FIELDS = (
    ("prompt", "prompt"),
    ("hotwords", "hotwords"),
    ("temperature", "temperature"),
    ("beam_size", "beamSize"),
    ("word_timestamps", "wordTimestamps"),
)
VAD_FIELDS = (
    ("threshold", "threshold"),
    ("prefix_padding_ms", "prefixPaddingMs"),
    ("silence_duration_ms", "silenceDurationMs"),
)

# Types of the events posted on resources.
EVENT_NORMAL = "Normal"
EVENT_WARNING = "Warning"

# Status and annotation patches are JSON merge patches.
MERGE_PATCH = "application/merge-patch+json"

# A sharded job's worker pods: how many shards there are (each pod's index is its own).
SHARDS_ENV = "AUDIOTEXT_SHARDS"
