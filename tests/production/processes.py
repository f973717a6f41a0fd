"""The production backends together: PostgreSQL + Redis + MinIO, each a real server."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.servers import AUDIOTEXT, MinioServer, RedisServer, free_port, wait_healthy


@dataclass
class Production:
    """Environment for processes (and settings for in-process apps) on the real servers."""

    database_url: str
    redis_url: str
    storage_url: str
    aws: dict[str, str]
    tmp: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            **self.aws,
            "AUDIOTEXT_DATABASE_URL": self.database_url,
            "AUDIOTEXT_REDIS_URL": self.redis_url,
            "AUDIOTEXT_STORAGE_URL": self.storage_url,
            "AUDIOTEXT_DATA_DIR": str(self.tmp / "data"),
            "AUDIOTEXT_CPU_THREADS": "2",
            "AUDIOTEXT_TERMINATION_LOG": str(self.tmp / "termination-log"),
            **extra,
        }


@pytest.fixture
def production(
    postgres_database: str,
    redis_server: RedisServer,
    minio_server: MinioServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Production:
    aws = minio_server.env()
    for name, value in aws.items():
        monkeypatch.setenv(name, value)  # boto3 reads the standard variables
    return Production(
        database_url=postgres_database,
        redis_url=redis_server.url,
        storage_url=f"s3://audiotext-{uuid.uuid4().hex[:12]}/jobs",
        aws=aws,
        tmp=tmp_path,
    )


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]


def start_gateway(env: dict[str, str], command: str = "serve") -> Gateway:
    """``audiotext serve|api`` as a real process on a loopback port."""
    port = free_port()
    env = {**env, "AUDIOTEXT_PORT": str(port)}
    log = open(Path(env["AUDIOTEXT_DATA_DIR"]).parent / f"gateway-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen([AUDIOTEXT, command], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(
        url,
        process,
        exited=lambda: f"gateway exited: see {log.name}",
        failure="gateway did not start",
        interval=0.1,
    )
    return Gateway(url, process)


def stop_gateway(gateway: Gateway) -> None:
    gateway.process.send_signal(signal.SIGTERM)
    try:
        gateway.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        gateway.process.kill()
        gateway.process.wait()


@pytest.fixture
def gateways() -> Iterator[list[Gateway]]:
    started: list[Gateway] = []
    yield started
    for gateway in started:
        stop_gateway(gateway)
