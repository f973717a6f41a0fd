"""The TranscriptionJob the gateway writes for a job (pure)."""

from __future__ import annotations

from typing import Any

from audiotext.config import Settings
from audiotext.jobs.choices import requested_formats
from audiotext.jobs.schemas import JobPublic
from audiotext.kube import constants as k


def build_transcription_job(job: JobPublic, settings: Settings) -> dict[str, Any]:
    """A TranscriptionJob named after the job id, so the two can always be found together."""
    spec: dict[str, Any] = {
        "audio": {"url": job.url},
        "model": job.model,
        "task": job.task,
        "outputFormats": list(requested_formats(job.options)),
        "device": settings.worker_device,
        "gpus": settings.worker_gpus if settings.worker_device == "gpu" else 0,
    }
    if job.language:
        spec["language"] = job.language
    if job.options.get("queue"):
        spec["queueName"] = job.options["queue"]  # the API key's tenant queue
    if job.options.get("priority"):
        spec["priority"] = job.options["priority"]
    if job.options.get("diarize"):
        spec["diarization"] = {
            "enabled": True,
            **{
                field: job.options[option]
                for option, field in k.DIARIZATION_COUNTS
                if job.options.get(option) is not None
            },
        }
    decoding = decoding_spec(job.options)
    if decoding:
        spec["decoding"] = decoding
    sharding = job.options.get("sharding") or {}
    if sharding:
        spec["sharding"] = {f: sharding[o] for o, f in k.SHARDING_FIELDS if o in sharding}
    return {
        "apiVersion": k.API_VERSION,
        "kind": k.KIND,
        "metadata": {
            "name": job.id,
            "namespace": settings.namespace,
            "labels": {k.LABEL_JOB_ID: job.id},
        },
        "spec": spec,
    }


def decoding_spec(options: dict[str, Any]) -> dict[str, Any]:
    """A job's decoding options as spec.decoding (empty when it asked for none)."""
    decoding = {field: options[o] for o, field in k.DECODING_FIELDS if options.get(o) is not None}
    vad = {
        field: v
        for o, field in k.VAD_FIELDS
        if (v := options.get("vad_parameters", {}).get(o)) is not None
    }
    if options.get("vad_filter") is not None:
        vad["enabled"] = options["vad_filter"]
    if vad:
        decoding["vad"] = vad
    return decoding
