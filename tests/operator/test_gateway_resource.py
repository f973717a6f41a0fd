"""The gateway's side without a cluster: the TranscriptionJob it writes, and clear failures
when no cluster can be reached (the operator exits non-zero, the gateway answers 503).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from audiotext.config import Settings
from audiotext.executor.kubernetes import KubernetesExecutor
from audiotext.jobs.errors import BackendUnavailable
from audiotext.jobs.schemas import JobPublic
from audiotext.jobs.states import JobStatus
from audiotext.kube import constants as k
from audiotext.kube.resources import build_transcription_job
from audiotext.operator.builders import request_of
from audiotext.operator.main import run_operator
from audiotext.services.admission import JobRequest

from helpers import free_port, make_settings, running_app

JOB_ID = "5f2d0c4e-1b8a-4c4e-8d3e-2a9b7c6d5e4f"


def job(**values: Any) -> JobPublic:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "id": JOB_ID,
        "filename": "talk.flac",
        "url": "s3://bucket/uploads/talk.flac",
        "status": JobStatus.PENDING,
        "progress": 0,
        "model": "tiny.en",
        "engine": "faster-whisper",
        "task": "transcribe",
        "creation_date": now,
        "update_date": now,
        **values,
    }
    return JobPublic(**fields)


@pytest.mark.parametrize(
    ("values", "device", "expected"),
    [
        ({}, "gpu", {"device": "gpu", "gpus": 1}),
        ({}, "cpu", {"device": "cpu", "gpus": 0}),
        ({"language": "de"}, "cpu", {"language": "de"}),
        ({"task": "translate", "model": "small"}, "gpu", {"task": "translate", "model": "small"}),
    ],
)
def test_the_gateway_names_its_resource_after_the_job(
    values: dict[str, Any], device: str, expected: dict[str, Any]
) -> None:
    settings = Settings(namespace="media", worker_device=device)
    body = build_transcription_job(job(**values), settings)
    assert (body["apiVersion"], body["kind"]) == ("audiotext.io/v1alpha1", "TranscriptionJob")
    assert body["metadata"]["name"] == JOB_ID
    assert body["metadata"]["namespace"] == "media"
    assert body["metadata"]["labels"][k.LABEL_JOB_ID] == JOB_ID
    spec = body["spec"]
    assert spec["audio"] == {"url": "s3://bucket/uploads/talk.flac"}
    assert spec["outputFormats"] == ["txt", "json", "srt", "vtt"]
    assert {key: spec[key] for key in expected} == expected
    if "language" not in values:
        assert "language" not in spec  # absent means "detect it"


def test_a_sharded_job_asks_its_resource_and_the_operator_reads_it_back() -> None:
    options = {"sharding": {"shard_seconds": 120.0, "max_parallel": 4}}
    spec = build_transcription_job(job(options=options), Settings())["spec"]
    assert spec["sharding"] == {"shardSeconds": 120.0, "maxParallel": 4}
    assert request_of(spec, JOB_ID).options["sharding"] == options["sharding"]
    assert "sharding" not in build_transcription_job(job(), Settings())["spec"]
    assert "sharding" not in request_of({**spec, "sharding": {}}, "x").options


def test_a_tenants_queue_and_a_priority_go_into_the_resource() -> None:
    options = {"queue": "team-a", "priority": "batch"}
    spec = build_transcription_job(job(options=options), Settings())["spec"]
    assert (spec["queueName"], spec["priority"]) == ("team-a", "batch")
    plain = build_transcription_job(job(), Settings())["spec"]
    assert "queueName" not in plain and "priority" not in plain


def test_a_diarized_job_asks_its_resource_and_the_operator_reads_it_back() -> None:
    options = {"diarize": True, "max_speakers": 3}
    spec = build_transcription_job(job(options=options), Settings())["spec"]
    assert spec["diarization"] == {"enabled": True, "maxSpeakers": 3}
    assert spec["outputFormats"] == ["txt", "json", "srt", "vtt", "rttm"]
    assert request_of(spec, JOB_ID).options["diarize"] is True
    assert request_of(spec, JOB_ID).options["max_speakers"] == 3
    assert "diarize" not in request_of({**spec, "diarization": {"enabled": False}}, "x").options


def test_decoding_options_go_through_the_resource_and_back() -> None:
    options = {
        "prompt": "Kennedy.",
        "hotwords": "Americans",
        "temperature": 0.2,
        "beam_size": 3,
        "word_timestamps": False,
        "vad_filter": True,
        "vad_parameters": {"threshold": 0.6, "silence_duration_ms": 400},
    }
    spec = build_transcription_job(job(options=options), Settings())["spec"]
    assert spec["decoding"] == {
        "prompt": "Kennedy.",
        "hotwords": "Americans",
        "temperature": 0.2,
        "beamSize": 3,
        "wordTimestamps": False,
        "vad": {"enabled": True, "threshold": 0.6, "silenceDurationMs": 400},
    }
    read_back = request_of(spec, JOB_ID).options
    assert {key: read_back[key] for key in options} == options
    plain = build_transcription_job(job(), Settings())["spec"]
    assert "decoding" not in plain
    assert not set(request_of(plain, JOB_ID).options) & set(options)


def unreachable_kubeconfig(tmp_path: Path) -> Path:
    """Credentials for an API server on a loopback port where nothing listens."""
    path = tmp_path / "kubeconfig"
    port = free_port()
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}',"
        " insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    return path


def missing_kubeconfig(tmp_path: Path) -> Path:
    return tmp_path / "missing"


def kubeconfig_with(text: str) -> Callable[[Path], Path]:
    def write(tmp_path: Path) -> Path:
        path = tmp_path / "kubeconfig"
        path.write_text(text)
        return path

    return write


@pytest.mark.parametrize(
    ("kubeconfig", "says"),
    [
        (missing_kubeconfig, "is not a readable file"),
        (kubeconfig_with("clusters: ["), "unusable cluster credentials"),
        (kubeconfig_with("{}"), "unusable cluster credentials"),
        (unreachable_kubeconfig, "cannot reach the cluster's API server"),
    ],
    ids=["missing", "not-yaml", "empty", "unreachable"],
)
def test_the_operator_exits_with_a_clear_error_without_a_cluster(
    kubeconfig: Callable[[Path], Path],
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_operator(Settings(kubeconfig=kubeconfig(tmp_path))) == 1
    error = capsys.readouterr().err
    assert error.startswith("audiotext operator: ")
    assert says in error
    assert "Traceback" not in error


async def test_the_gateway_reports_an_unreachable_cluster_as_unavailable(tmp_path: Path) -> None:
    executor = KubernetesExecutor(Settings(kubeconfig=unreachable_kubeconfig(tmp_path)))
    try:
        await executor.start()  # only warns: the gateway still serves reads
        with pytest.raises(BackendUnavailable):
            await executor.submit(job())
        with pytest.raises(BackendUnavailable):
            await executor.cancel(JOB_ID)
        with pytest.raises(BackendUnavailable):
            await executor.ping()
    finally:
        await executor.close()


async def test_the_gateway_without_credentials_is_unavailable(tmp_path: Path) -> None:
    executor = KubernetesExecutor(Settings(kubeconfig=tmp_path / "missing"))
    with pytest.raises(BackendUnavailable, match="cluster unavailable"):
        await executor.submit(job())
    await executor.close()


def test_audiotext_operator_exits_non_zero_without_a_cluster(tmp_path: Path) -> None:
    """The command itself, as a Deployment or a user runs it."""
    program = Path(sys.executable).parent / "audiotext"
    env = {
        **os.environ,
        "AUDIOTEXT_KUBECONFIG": str(tmp_path / "missing"),
        "AUDIOTEXT_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [str(program), "operator"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "audiotext operator: cannot reach a cluster" in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_cancel_the_cluster_cannot_record_leaves_the_job_as_it_was(
    tmp_path: Path,
) -> None:
    """The resource is marked before the row: a 503 means nothing changed, and the Job runs on."""
    settings = make_settings(
        tmp_path, executor="kubernetes", kubeconfig=unreachable_kubeconfig(tmp_path)
    )
    async with running_app(settings) as (app, client):
        jobs = app.state.services.jobs
        await jobs.register(JOB_ID, JobRequest(filename="talk.flac"), "s3://bucket/talk.flac")
        response = await client.delete(f"/api/v1/job/{JOB_ID}")
        assert response.status_code == 503, response.text
        status = await client.get(f"/api/v1/job/status/{JOB_ID}")
    assert status.json()["status"] == "pending"
