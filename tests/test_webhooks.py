"""Webhooks: signed POST of the final job, retried with backoff; private targets refused."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from audiotext.netguard import pinned_request

from helpers import JFK_TEXT, final, make_settings, running_app, wait_for, webhook_receiver
from wer import wer


@pytest.mark.slow
async def test_signed_delivery_with_retry(tmp_path: Path, jfk: Path) -> None:
    settings = make_settings(tmp_path, webhook_secret="hook-secret", webhook_allow_private=True)
    async with (
        webhook_receiver(fail_first=1) as (url, received),
        running_app(settings) as (_, client),
    ):
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        created = await client.post(
            "/api/v1/job/transcribe", files=files, data={"callback_url": url}
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        await wait_for(client, job_id, final)
        for _ in range(100):
            if len(received) >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(received) == 2, "one refused attempt, then a delivery"
        delivery = received[-1]
        body = delivery["body"]
        timestamp = delivery["headers"]["x-audiotext-timestamp"]
        expected = hmac.new(b"hook-secret", timestamp.encode() + b"." + body, hashlib.sha256)
        assert delivery["headers"]["x-audiotext-signature"] == f"sha256={expected.hexdigest()}"
        assert delivery["headers"]["x-audiotext-event"] == "job.completed"
        job = json.loads(body)
        assert job["id"] == job_id and wer(JFK_TEXT, job["result_text"]) <= 0.1
        for _ in range(50):
            if (await _callback_status(client, job_id)).startswith("delivered"):
                break
            await asyncio.sleep(0.1)
        assert (await _callback_status(client, job_id)) == "delivered (HTTP 204)"


@pytest.mark.slow
async def test_delivery_goes_to_the_address_checked_with_the_host_kept(
    tmp_path: Path, jfk: Path
) -> None:
    # The request is sent to the resolved address itself (no second lookup that DNS
    # rebinding could answer differently); the receiver still sees the name it was given.
    settings = make_settings(tmp_path, webhook_secret="hook-secret", webhook_allow_private=True)
    async with (
        webhook_receiver(fail_first=0) as (url, received),
        running_app(settings) as (_, client),
    ):
        by_name = url.replace("127.0.0.1", "localhost")
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        created = await client.post(
            "/api/v1/job/transcribe", files=files, data={"callback_url": by_name}
        )
        assert created.status_code == 202, created.text
        await wait_for(client, created.json()["id"], final)
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.1)
        assert received, "no delivery"
        assert received[0]["headers"]["host"] == by_name.split("/")[2]


def test_pinned_request_keeps_the_name_for_host_and_tls() -> None:
    plain = pinned_request("http://hooks.example:8080/a?b=1", "203.0.113.7")
    assert plain.url == "http://203.0.113.7:8080/a?b=1"
    assert plain.headers == {"Host": "hooks.example:8080"}
    assert plain.extensions == {}
    tls = pinned_request("https://hooks.example/a", "2001:db8::5")
    assert tls.url == "https://[2001:db8::5]/a"
    assert tls.headers == {"Host": "hooks.example"}
    assert tls.extensions == {"sni_hostname": "hooks.example"}


async def _callback_status(client: Any, job_id: str) -> str:
    app = client._transport.app  # the real app behind the ASGI transport
    row = await app.state.services.jobs.row(job_id)
    assert row.callback_attempts >= 1
    return str(row.callback_status)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/hook",
        "ftp://example.com/x",
        "http://user:pw@example.com/",
    ],
)
async def test_private_and_odd_callbacks_are_refused(tmp_path: Path, jfk: Path, url: str) -> None:
    settings = make_settings(tmp_path, webhook_secret="hook-secret")
    async with running_app(settings) as (_, client):
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        response = await client.post(
            "/api/v1/job/transcribe", files=files, data={"callback_url": url}
        )
        assert response.status_code == 422, response.text
        assert "callback_url" in response.json()["detail"]
        assert (await client.get("/api/v1/job/read")).json()["total"] == 0


async def test_callbacks_are_refused_without_a_webhook_secret(
    tmp_path: Path, jfk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Deliveries signed with an empty key could be forged: no secret, no callback_url."""
    settings = make_settings(tmp_path, webhook_allow_private=True)
    caplog.set_level(logging.WARNING, logger="audiotext.services.webhooks")
    async with running_app(settings) as (_, client):
        assert any("AUDIOTEXT_WEBHOOK_SECRET" in r.getMessage() for r in caplog.records)
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        response = await client.post(
            "/api/v1/job/transcribe", files=files, data={"callback_url": "http://127.0.0.1:9/h"}
        )
        assert response.status_code == 422, response.text
        assert "AUDIOTEXT_WEBHOOK_SECRET" in response.json()["detail"]
        assert (await client.get("/api/v1/job/read")).json()["total"] == 0
        plain = await client.post("/api/v1/job/transcribe", files=files)
        assert plain.status_code == 202, "jobs without a callback are unaffected"
