"""S3 failures other than a missing object: refused access is clear, outages are a 503."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from audiotext.jobs.errors import BackendUnavailable, StorageRefused
from audiotext.storage.s3 import S3Storage

from helpers import make_settings, running_app
from processes import Production
from support.servers import MinioServer


@pytest.mark.s3
async def test_wrong_credentials_are_a_clear_error_and_leave_nothing(
    production: Production, tmp_path: Path, jfk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    storage = S3Storage(production.storage_url)
    with pytest.raises(StorageRefused, match="denied access"):
        await storage.put_bytes("a.txt", b"x", "text/plain")

    settings = make_settings(tmp_path, storage_url=production.storage_url)
    async with running_app(settings) as (_, client):
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        refused = await client.post("/api/v1/job/transcribe", files=files)
        assert refused.status_code == 500, refused.text
        assert refused.json()["code"] == "storage_refused"
        assert "AWS_SECRET_ACCESS_KEY" in refused.json()["detail"]
        ready = (await client.get("/readyz")).json()
        assert "denied access" in ready["checks"]["storage"]
        assert (await client.get("/api/v1/job/read")).json()["total"] == 0


@pytest.mark.s3
@pytest.mark.slow
async def test_minio_stopped_is_a_503(
    production: Production, minio_server: MinioServer, tmp_path: Path
) -> None:
    storage = S3Storage(production.storage_url)
    await storage.put_bytes("uploads/a.flac", b"x", "audio/flac")
    settings = make_settings(tmp_path, storage_url=production.storage_url)
    async with running_app(settings) as (_, client):
        await asyncio.to_thread(minio_server.stop)
        try:
            for call in (storage.get_bytes, storage.size, storage.delete):
                with pytest.raises(BackendUnavailable):
                    await call("uploads/a.flac")
            refused = await client.post(
                "/api/v1/job/transcribe",
                json={"filename": "a.flac", "url": storage.url_for("uploads/a.flac")},
            )
            assert refused.status_code == 503, refused.text
            assert "object storage unavailable" in refused.json()["detail"]
        finally:
            await asyncio.to_thread(minio_server.start)


class _Overloaded(BaseHTTPRequestHandler):
    """A real S3 endpoint that is overloaded: every request gets the status S3 sends then."""

    status = 503
    code = "SlowDown"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{self.code}</Code>"
            "<Message>Please reduce your request rate.</Message></Error>"
        ).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def overloaded_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Overloaded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "InternalError")])
async def test_throttling_and_server_errors_are_transient(
    overloaded_s3: ThreadingHTTPServer, status: int, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Overloaded, "status", status)
    monkeypatch.setattr(_Overloaded, "code", code)
    endpoint = f"http://127.0.0.1:{overloaded_s3.server_address[1]}"
    storage = S3Storage("s3://busy/jobs", endpoint_url=endpoint)
    storage._bucket_ready = True  # the bucket check would meet the same answer first
    with pytest.raises(BackendUnavailable, match=code):
        await storage.put_bytes("a.txt", b"x", "text/plain")
    with pytest.raises(BackendUnavailable):
        await storage.ping()
