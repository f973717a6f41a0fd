"""Pure builders: a TranscriptionJob (and the operator's settings) in, Kubernetes objects out."""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

from audiotext.config import Settings
from audiotext.jobs import exit_codes
from audiotext.jobs.choices import DEFAULT_OUTPUT_FORMATS, task_of
from audiotext.jobs.decoding import decoding_options
from audiotext.kube import constants as k
from audiotext.services.admission import JobRequest

Body = dict[str, Any]

_MAX_NAME = 63  # Job names end up in the job-name label of their pods; label values too


def _shortened(name: str, suffix: str) -> str:
    """``name`` + ``suffix`` within 63 characters; a long name is cut and keeps a hash of itself."""
    if len(name) + len(suffix) <= _MAX_NAME:
        return f"{name}{suffix}"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: _MAX_NAME - len(suffix) - 9].rstrip('-.')}-{digest}{suffix}"


def job_name(resource_name: str) -> str:
    """The Job's name for a resource: deterministic, so a replayed handler finds its Job."""
    return _shortened(resource_name, "-worker")


def resource_label(resource_name: str) -> str:
    """The resource's name as a label value (at most 63 characters; names go up to 253)."""
    return _shortened(resource_name, "")


def owner_of(job: Body) -> tuple[str, str] | None:
    """The name and uid of the TranscriptionJob that owns a Job, from its owner references.

    The owner reference holds the full name and the uid, so a Job of an earlier resource
    with the same name is not taken for the current one's.
    """
    for ref in (job.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == k.KIND and str(ref.get("apiVersion", "")).startswith(f"{k.GROUP}/"):
            return str(ref["name"]), str(ref["uid"])
    return None


def request_of(spec: Body, name: str) -> JobRequest:
    """What a resource asks for, as the job service takes it (for the row of a resource
    created with kubectl)."""
    url = str(spec["audio"]["url"])
    return JobRequest(
        filename=posixpath.basename(url.rstrip("/")) or name,
        model=spec.get("model") or None,
        language=spec.get("language") or None,
        task=task_of(spec.get("task")),
        options={
            "source": "kubernetes",
            "resource": name,
            "output_formats": list(spec.get("outputFormats") or DEFAULT_OUTPUT_FORMATS),
            **diarization_options(spec),
            **decoding_of(spec),
            **sharding_options(spec),
        },
    )


def decoding_of(spec: Body) -> Body:
    """A resource's spec.decoding as a job's options, checked as the API checks them (the
    CRD's schema has the same bounds, so the API server refuses a bad one first)."""
    decoding = spec.get("decoding") or {}
    vad = decoding.get("vad") or {}
    return decoding_options(
        {
            **{o: decoding.get(field) for o, field in k.DECODING_FIELDS},
            "vad_filter": vad.get("enabled"),
            "vad_parameters": {o: vad.get(field) for o, field in k.VAD_FIELDS},
        }
    )


def diarization_options(spec: Body) -> Body:
    """A resource's spec.diarization as a job's options (nothing when it is off)."""
    diarization = spec.get("diarization") or {}
    if not diarization.get("enabled"):
        return {}
    counts = {o: diarization[f] for o, f in k.DIARIZATION_COUNTS if f in diarization}
    return {"diarize": True, **counts}


def sharding_options(spec: Body) -> Body:
    """A resource's spec.sharding as a job's options (nothing: the server's defaults)."""
    sharding = spec.get("sharding") or {}
    asked = {o: sharding[f] for o, f in k.SHARDING_FIELDS if sharding.get(f) is not None}
    return {"sharding": asked} if asked else {}


def gpu_requested(spec: Body) -> bool:
    return spec.get("device", "gpu") == "gpu" and int(spec.get("gpus", 1)) > 0


def node_selector(spec: Body, settings: Settings) -> dict[str, str]:
    selector = dict(settings.worker_node_selector)
    if gpu_requested(spec):
        selector[k.GPU_PRESENT_LABEL] = "true"
    else:
        selector.update(settings.worker_cpu_node_selector)
    selector.update(spec.get("nodeSelector") or {})
    return selector


def tolerations(spec: Body, settings: Settings) -> list[Body]:
    result = [dict(t) for t in settings.worker_tolerations]
    if gpu_requested(spec):
        result.append(
            {
                "key": k.GPU_TAINT_KEY,
                "operator": "Equal",
                "value": k.GPU_TAINT_VALUE,
                "effect": "NoSchedule",
            }
        )
    else:
        result.extend(dict(t) for t in settings.worker_cpu_tolerations)
    for toleration in spec.get("tolerations") or []:
        if toleration not in result:
            result.append(dict(toleration))
    return result


def resources(spec: Body, settings: Settings) -> Body:
    result: Body = {
        "requests": dict(settings.worker_resources.get("requests", {})),
        "limits": dict(settings.worker_resources.get("limits", {})),
    }
    if gpu_requested(spec):
        result["limits"][k.GPU_RESOURCE] = str(int(spec.get("gpus", 1)))
    return {key: value for key, value in result.items() if value}


def worker_env(spec: Body) -> list[Body]:
    gpu = gpu_requested(spec)
    env = [
        {"name": "AUDIOTEXT_DEVICE", "value": "cuda" if gpu else "cpu"},
        {"name": "HF_HUB_OFFLINE", "value": "1"},
        {"name": "HOME", "value": "/tmp"},
        {"name": "AUDIOTEXT_DATA_DIR", "value": "/tmp/audiotext"},
    ]
    if spec.get("model"):
        env.append({"name": "AUDIOTEXT_MODEL", "value": str(spec["model"])})
    return env


def add_models_volume(pod_spec: Body, claim: str) -> None:
    """Mount the models claim read-only where the worker looks for models."""
    pod_spec["volumes"].append(
        {"name": "models", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
    )
    container = pod_spec["containers"][0]
    container["volumeMounts"].append(
        {"name": "models", "mountPath": k.WORKER_MODELS_PATH, "readOnly": True}
    )
    container["env"].append({"name": "AUDIOTEXT_MODEL_DIR", "value": k.WORKER_MODELS_PATH})


def build_job(
    resource: Body, job_id: str, settings: Settings, shards: int = 1, parallel: int | None = None
) -> Body:
    """The batch/v1 Job that runs ``audiotext worker <job_id>`` for one TranscriptionJob; with
    ``shards`` > 1, an Indexed Job of one pod per shard, ``parallel`` of them at once."""
    meta, spec = resource["metadata"], resource.get("spec", {})
    name = job_name(meta["name"])
    queue = spec.get("queueName") or settings.worker_queue_name
    labels = {
        k.LABEL_MANAGED_BY: k.MANAGED_BY,
        k.LABEL_COMPONENT: k.WORKER_COMPONENT,
        k.LABEL_RESOURCE: resource_label(meta["name"]),
        k.LABEL_JOB_ID: job_id,
    }
    if queue:
        labels[k.KUEUE_QUEUE_LABEL] = queue
    if spec.get("priority"):
        labels[k.KUEUE_PRIORITY_LABEL] = spec["priority"]
    pod_spec: Body = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": k.WORKER_UID,
            "runAsGroup": k.WORKER_UID,
            "fsGroup": k.WORKER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": k.WORKER_CONTAINER,
                "image": settings.worker_image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["audiotext"],
                "args": ["worker", job_id],
                "envFrom": [{"secretRef": {"name": settings.worker_secret}}],
                "env": worker_env(spec),
                "resources": resources(spec, settings),
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    selector = node_selector(spec, settings)
    if selector:
        pod_spec["nodeSelector"] = selector
    tolerated = tolerations(spec, settings)
    if tolerated:
        pod_spec["tolerations"] = tolerated
    if settings.worker_models_claim:
        add_models_volume(pod_spec, settings.worker_models_claim)
    priority = spec.get("priorityClassName") or settings.worker_priority_class
    if priority:
        pod_spec["priorityClassName"] = priority
    if gpu_requested(spec) and settings.worker_runtime_class:
        pod_spec["runtimeClassName"] = settings.worker_runtime_class
    job: Body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": meta.get("namespace"), "labels": labels},
        "spec": {
            "backoffLimit": int(spec.get("backoffLimit", 2)),
            "activeDeadlineSeconds": int(spec.get("activeDeadlineSeconds", 1800)),
            "ttlSecondsAfterFinished": settings.worker_ttl_seconds_after_finished,
            "suspend": bool(queue),
            "podFailurePolicy": {
                "rules": [
                    {
                        # Bad input fails the Job at once: another attempt cannot help.
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": k.WORKER_CONTAINER,
                            "operator": "In",
                            "values": [exit_codes.BAD_INPUT],
                        },
                    },
                    {
                        # Evictions and preemptions are not the worker's fault.
                        "action": "Ignore",
                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                    },
                ]
            },
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
    return indexed(job, shards, parallel, settings.shard_seconds) if shards > 1 else job


def indexed(job: Body, shards: int, parallel: int | None, shard_seconds: float) -> Body:
    """``job`` as an Indexed Job of ``shards`` pods: pod ``i`` (``JOB_COMPLETION_INDEX``)
    transcribes shard ``i``. Each index has its own retries, so a shard whose pod was killed
    runs again alone and the others' work is kept."""
    spec = job["spec"]
    retries = spec.pop("backoffLimit")
    spec.update(
        completionMode="Indexed",
        completions=shards,
        parallelism=min(shards, parallel or shards),
        backoffLimitPerIndex=retries,
    )
    container = spec["template"]["spec"]["containers"][0]
    container["env"].extend(
        [
            {"name": k.SHARDS_ENV, "value": str(shards)},
            # The pods plan the shards as the operator counted them (a job's own length wins).
            {"name": "AUDIOTEXT_SHARD_SECONDS", "value": str(shard_seconds)},
        ]
    )
    return job
