"""The test servers are real: PostgreSQL answers SQL, Redis delivers pub/sub, MinIO enforces
presigned uploads, and each one survives a stop and a start on the same port."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
import pytest
import redis
import sqlalchemy
from botocore.exceptions import EndpointConnectionError

from support.servers import MinioServer, PostgresServer, RedisServer


def _accepts_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_answers_sql(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.dsn) as conn:
        row = conn.execute("SELECT current_user, current_database(), 6 * 7").fetchone()
    assert row == (postgres_server.user, postgres_server.database, 42)
    assert postgres_server.url.startswith("postgresql+psycopg://")
    assert postgres_server.host == "127.0.0.1"


@pytest.mark.postgres
def test_postgres_url_works_with_sqlalchemy(postgres_database: str) -> None:
    engine = sqlalchemy.create_engine(postgres_database)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_database_is_new_and_empty(postgres_database: str) -> None:
    dsn = postgres_database.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE scratch (id int)")


@pytest.mark.postgres
def test_postgres_drop_database_removes_it(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    name = url.rsplit("/", 1)[-1]
    # An open connection does not keep the database alive: dropping forces it out.
    holder = psycopg.connect(postgres_server.dsn_for(name))
    try:
        postgres_server.drop_database(url)
    finally:
        holder.close()
    with psycopg.connect(postgres_server.dsn_for("postgres")) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert found is None


@pytest.mark.postgres
def test_postgres_stop_and_start_keep_port_and_data(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    dsn = postgres_server.dsn_for(url.rsplit("/", 1)[-1])
    port = postgres_server.port
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE kept (value text)")
        conn.execute("INSERT INTO kept VALUES ('before the restart')")

    postgres_server.stop()
    try:
        assert not postgres_server.running
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=2)
    finally:
        postgres_server.start()

    assert postgres_server.port == port
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT value FROM kept").fetchall() == [("before the restart",)]
    postgres_server.drop_database(url)


# --- Redis ----------------------------------------------------------------------------------


@pytest.mark.redis
def test_redis_publish_reaches_subscriber(redis_server: RedisServer) -> None:
    subscriber = redis.Redis.from_url(redis_server.url)
    publisher = redis.Redis.from_url(redis_server.url)
    pubsub = subscriber.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    try:
        pubsub.subscribe("job_updates")
        assert pubsub.get_message(timeout=5) is None  # consumes the subscribe confirmation
        assert publisher.publish("job_updates", b'{"status": "running"}') == 1
        message = pubsub.get_message(timeout=5)
        assert message is not None
        assert message["channel"] == b"job_updates"
        assert message["data"] == b'{"status": "running"}'
    finally:
        pubsub.close()
        subscriber.close()
        publisher.close()


@pytest.mark.redis
def test_redis_stop_and_start_keep_port(redis_server: RedisServer) -> None:
    port = redis_server.port
    redis_server.stop()
    try:
        assert not _accepts_connections(port)
        client = redis.Redis.from_url(redis_server.url, socket_connect_timeout=1)
        with pytest.raises(redis.ConnectionError):
            client.ping()
        client.close()
    finally:
        redis_server.start()
    assert redis_server.port == port
    client = redis.Redis.from_url(redis_server.url)
    assert client.ping()
    client.close()


# --- MinIO (S3) -----------------------------------------------------------------------------


@pytest.fixture
def bucket(minio_server: MinioServer) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    minio_server.client().create_bucket(Bucket=name)
    return name


def _presign_put(s3: Any, bucket: str, key: str, content_type: str, length: int) -> str:
    url: str = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": content_type, "ContentLength": length},
        ExpiresIn=300,
    )
    return url


@pytest.mark.s3
def test_minio_env_configures_boto3(
    minio_server: MinioServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = minio_server.env()
    assert env == {
        "AWS_ENDPOINT_URL": minio_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": minio_server.access_key,
        "AWS_SECRET_ACCESS_KEY": minio_server.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    assert minio_server.endpoint_url.startswith("http://127.0.0.1:")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    name = f"env-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3")  # configured only by the environment
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.s3
def test_presigned_put_over_plain_http(minio_server: MinioServer, bucket: str) -> None:
    s3 = minio_server.client()
    body = b"RIFF....WAVEfmt fake audio bytes"
    url = _presign_put(s3, bucket, "audio/a.wav", "audio/wav", len(body))
    assert url.startswith("http://")
    assert "content-length%3Bcontent-type%3Bhost" in url  # both are signed

    response = httpx.put(url, content=body, headers={"Content-Type": "audio/wav"})

    assert response.status_code == 200, response.text
    stored = s3.get_object(Bucket=bucket, Key="audio/a.wav")
    assert stored["Body"].read() == body
    assert stored["ContentType"] == "audio/wav"


@pytest.mark.s3
def test_presigned_put_with_wrong_content_type_is_refused(
    minio_server: MinioServer, bucket: str
) -> None:
    s3 = minio_server.client()
    body = b"some audio"
    url = _presign_put(s3, bucket, "audio/b.wav", "audio/wav", len(body))

    response = httpx.put(url, content=body, headers={"Content-Type": "text/plain"})

    assert response.status_code == 403, response.text
    assert "SignatureDoesNotMatch" in response.text
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.s3
def test_presigned_put_larger_than_signed_is_refused(
    minio_server: MinioServer, bucket: str
) -> None:
    s3 = minio_server.client()
    url = _presign_put(s3, bucket, "audio/c.wav", "audio/wav", 16)

    response = httpx.put(url, content=b"x" * 1024, headers={"Content-Type": "audio/wav"})

    assert response.status_code == 403, response.text
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.s3
def test_minio_stop_and_start_keep_port_and_data(minio_server: MinioServer, bucket: str) -> None:
    s3 = minio_server.client(retries={"max_attempts": 1}, connect_timeout=2)
    s3.put_object(Bucket=bucket, Key="kept.txt", Body=b"before the restart")
    port = minio_server.port

    minio_server.stop()
    try:
        assert not _accepts_connections(port)
        with pytest.raises(EndpointConnectionError):
            s3.list_buckets()
    finally:
        minio_server.start()

    assert minio_server.port == port
    assert s3.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"before the restart"


def _listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses with a listening TCP socket on ``port`` (from /proc/net/tcp)."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:
            addresses.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return addresses


@pytest.mark.s3
def test_minio_with_an_address_for_pods_listens_there_and_on_loopback_only() -> None:
    # 127.0.0.2 stands in for the cluster's host-ip (also an address on lo).
    with MinioServer(hosts=("127.0.0.1", "127.0.0.2")) as server:
        assert _listening_addresses(server.port) == {"127.0.0.1", "127.0.0.2"}
        bucket = f"pods-{uuid.uuid4().hex[:12]}"
        server.client().create_bucket(Bucket=bucket)
        assert bucket in [b["Name"] for b in server.client().list_buckets()["Buckets"]]
