"""Bad input: each gets a clear JSON error with the right status and leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from audiotext.config import Settings

from helpers import free_port, live_server, presign, running_app


def stored_files(settings: Settings) -> list[Path]:
    root = Path(settings.resolved_storage_url)
    return [p for p in root.rglob("*") if p.is_file() and p.name != ".upload-secret"]


async def assert_nothing_left(client: httpx.AsyncClient, settings: Settings) -> None:
    listing = (await client.get("/api/v1/job/read")).json()
    assert listing["total"] == 0, listing
    assert stored_files(settings) == []


async def test_health_version_and_docs(client: httpx.AsyncClient) -> None:
    root = (await client.get("/api/v1")).json()
    assert root["name"] == "audiotext" and root["status"] == "ok"
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert set(ready.json()["checks"]) == {"database", "storage", "bus", "executor"}
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/redoc")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    for path in (
        "/api/v1/audio/presigned-url",
        "/api/v1/job/transcribe",
        "/api/v1/job/status/{job_id}",
        "/api/v1/job/read",
        "/api/v1/job/{job_id}",
        "/api/v1/job/{job_id}/transcript",
        "/v1/audio/transcriptions",
        "/v1/audio/translations",
    ):
        assert path in spec["paths"], path


async def test_metrics(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1")
    text = (await client.get("/metrics")).text
    assert 'audiotext_http_requests_total{method="GET",route="/api/v1",status="200"}' in text


@pytest.mark.parametrize("path", ["status/nope", "nope/transcript"])
async def test_unknown_job_is_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(f"/api/v1/job/{path}")
    assert response.status_code == 404
    assert response.json()["code"] == "job_not_found"


async def test_cancel_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/job/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=100000", "offset=-1", "status=done", "limit=abc"]
)
async def test_list_rejects_invalid_parameters(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/api/v1/job/read?{query}")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("invalid parameters")


async def test_not_audio_is_415_and_leaves_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    files = {"file": ("talk.wav", b"this is plainly not audio at all " * 50, "audio/wav")}
    response = await client.post("/api/v1/job/transcribe", files=files)
    assert response.status_code == 415, response.text
    assert "not audio" in response.json()["detail"]
    await assert_nothing_left(client, settings)


async def test_archive_renamed_wav_is_415(client: httpx.AsyncClient, settings: Settings) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.bin", b"\0" * 5_000_000)
    files = {"file": ("bomb.wav", buffer.getvalue(), "audio/wav")}
    response = await client.post("/api/v1/job/transcribe", files=files)
    assert response.status_code == 415
    assert "archive" in response.json()["detail"]
    await assert_nothing_left(client, settings)


async def test_empty_file_is_400(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.post(
        "/api/v1/job/transcribe", files={"file": ("empty.flac", b"", "audio/flac")}
    )
    assert response.status_code == 400
    assert "empty" in response.json()["detail"]
    await assert_nothing_left(client, settings)


async def test_truncated_file_is_400(
    client: httpx.AsyncClient, settings: Settings, jfk: Path
) -> None:
    head = jfk.read_bytes()[:200]
    response = await client.post(
        "/api/v1/job/transcribe", files={"file": ("cut.flac", head, "audio/flac")}
    )
    assert response.status_code == 400, response.text
    assert "decod" in response.json()["detail"]
    await assert_nothing_left(client, settings)


async def test_multipart_without_file_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/job/transcribe", data={"filename": "x.wav"}, files={"other": ("a", b"b")}
    )
    assert response.status_code == 422
    assert "file" in response.json()["detail"]


async def test_invalid_task_is_422(client: httpx.AsyncClient, jfk: Path) -> None:
    files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
    response = await client.post("/api/v1/job/transcribe", files=files, data={"task": "summarise"})
    assert response.status_code == 422
    assert "task" in response.json()["detail"]


async def test_too_large_multipart_is_413_while_streaming(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_upload_bytes=100_000)
    async with running_app(settings) as (_, client):
        sent = 0

        async def body():  # type: ignore[no-untyped-def]
            nonlocal sent
            boundary = b"--b\r\n"
            yield (
                boundary + b'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
            )
            for _ in range(1000):  # 64 MB if nobody stops us
                sent += 65536
                yield b"\0" * 65536
            yield b"\r\n--b--\r\n"

        response = await client.post(
            "/api/v1/job/transcribe",
            content=body(),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert response.status_code == 413
        assert "limit" in response.json()["detail"]
        assert sent < 2_000_000, "the body was read far past the limit"
        await assert_nothing_left(client, settings)


@pytest.mark.parametrize("path", ["/api/v1/job/transcribe", "/v1/audio/transcriptions"])
async def test_file_one_byte_over_the_limit_is_413(tmp_path: Path, jfk: Path, path: str) -> None:
    data = jfk.read_bytes()
    # Within the allowance the body limit gives multipart framing: the file itself is checked.
    settings = Settings(data_dir=tmp_path / "data", max_upload_bytes=len(data) - 1)
    async with running_app(settings) as (_, client):
        files = {"file": ("jfk.flac", data, "audio/flac")}
        response = await client.post(path, files=files, data={"model": "whisper-1"})
        assert response.status_code == 413, response.text
        body = response.json()
        code = body["error"]["code"] if path.startswith("/v1/") else body["code"]
        assert code == "payload_too_large"
        await assert_nothing_left(client, settings)


async def stalled_request(port: int, head: str, body: bytes) -> tuple[bytes, dict[str, str]]:
    """Send a request's head and the start of its body, then nothing: the status line and
    the JSON the server answers with."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return status_line, json.loads(rest.partition(b"\r\n\r\n")[2])


async def test_upload_that_stops_arriving_is_408(tmp_path: Path, jfk: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", port=free_port(), upload_idle_timeout_seconds=0.5
    )
    data = jfk.read_bytes()
    async with live_server(settings) as url:
        status_line, body = await stalled_request(
            settings.port,
            "POST /api/v1/job/transcribe HTTP/1.1\nHost: audiotext.test\n"
            "Content-Type: multipart/form-data; boundary=b\nContent-Length: 500000\n",
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.flac"\r\n\r\n'
            + data[:50_000],
        )
        assert status_line == b"HTTP/1.1 408 Request Timeout", status_line
        assert body["code"] == "upload_timeout" and "0.5 seconds" in body["detail"]
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            # A presigned upload to local storage that stalls leaves no partial object.
            signed = await presign(client, "a.flac", "audio/flac", data)
            target = signed["upload_url"].removeprefix(url)
            status_line, body = await stalled_request(
                settings.port,
                f"PUT {target} HTTP/1.1\nHost: audiotext.test\nContent-Type: audio/flac\n"
                f"Content-Length: {len(data)}\n",
                data[:50_000],
            )
            assert status_line == b"HTTP/1.1 408 Request Timeout", status_line
            await assert_nothing_left(client, settings)
            # A client that sends its whole body promptly may then wait for the result as
            # long as it takes: the idle limit is only on the body.
            with jfk.open("rb") as f:
                done = await client.post(
                    "/v1/audio/transcriptions", files={"file": f}, data={"model": "whisper-1"}
                )
            assert done.status_code == 200, done.text
            assert "country" in done.json()["text"]


async def test_declared_too_large_is_413_before_reading(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_upload_bytes=1000)
    async with running_app(settings) as (_, client):
        response = await client.post(
            "/v1/audio/transcriptions",
            content=b"x" * 200_000,
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"


async def test_presigned_url_validation(client: httpx.AsyncClient, settings: Settings) -> None:
    bad_type = await client.post(
        "/api/v1/audio/presigned-url",
        json={"filename": "a.txt", "content_type": "text/plain", "size": 10},
    )
    assert bad_type.status_code == 415
    too_big = await client.post(
        "/api/v1/audio/presigned-url",
        json={
            "filename": "a.wav",
            "content_type": "audio/wav",
            "size": settings.max_upload_bytes + 1,
        },
    )
    assert too_big.status_code == 413
    missing = await client.post("/api/v1/audio/presigned-url", json={"filename": "a.wav"})
    assert missing.status_code == 422
    zero = await client.post(
        "/api/v1/audio/presigned-url",
        json={"filename": "a.wav", "content_type": "audio/wav", "size": 0},
    )
    assert zero.status_code == 422


async def test_local_upload_url_is_bound_to_what_was_signed(
    server_url: str, settings: Settings, jfk: Path
) -> None:
    data = jfk.read_bytes()
    async with httpx.AsyncClient(base_url=server_url) as client:
        signed = await presign(client, "jfk.flac", "audio/flac", data)
        assert signed["method"] == "PUT"
        assert signed["upload_url"].startswith(server_url)
        wrong_type = await client.put(
            signed["upload_url"], content=data, headers={"Content-Type": "audio/wav"}
        )
        assert wrong_type.status_code == 403
        larger = await client.put(
            signed["upload_url"], content=data + b"xx", headers=signed["headers"]
        )
        assert larger.status_code == 413
        forged = signed["upload_url"][:-3] + "abc"
        assert (
            await client.put(forged, content=data, headers=signed["headers"])
        ).status_code == 403
        assert stored_files(settings) == []
        ok = await client.put(signed["upload_url"], content=data, headers=signed["headers"])
        assert ok.status_code == 200
        assert len(stored_files(settings)) == 1


async def test_transcribe_unknown_or_foreign_url(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    root = Path(settings.resolved_storage_url)
    missing = await client.post(
        "/api/v1/job/transcribe",
        json={"filename": "a.wav", "url": (root / "uploads/x/a.wav").as_uri()},
    )
    assert missing.status_code == 404
    for url in (
        "http://169.254.169.254/latest/meta-data",
        "file:///etc/passwd",
        "s3://other/a.wav",
    ):
        response = await client.post(
            "/api/v1/job/transcribe", json={"filename": "a.wav", "url": url}
        )
        assert response.status_code == 422, url
    await assert_nothing_left(client, settings)


async def test_json_body_errors(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/job/transcribe", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    response = await client.post(
        "/api/v1/job/transcribe", content=b"hello", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415


async def test_openai_errors_use_openai_shape(client: httpx.AsyncClient, jfk: Path) -> None:
    files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
    response = await client.post(
        "/v1/audio/transcriptions",
        files=files,
        data={"model": "whisper-1", "response_format": "xml"},
    )
    assert response.status_code == 400  # OpenAI never answers 422
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and "response_format" in error["message"]
    assert error["param"] == "response_format" and error["code"] == "invalid_value"
    response = await client.post(
        "/v1/audio/transcriptions",
        files={"file": ("x.wav", b"nope" * 20, "audio/wav")},
        data={"model": "whisper-1"},
    )
    assert response.status_code == 415
    assert "error" in response.json()
