"""Webhooks: a job's final state POSTed to its ``callback_url``, signed and retried."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time

import httpx

from audiotext.config import Settings
from audiotext.db.repository import JobRepository
from audiotext.jobs.errors import AudioTextError
from audiotext.jobs.schemas import JobPublic
from audiotext.netguard import check_outbound_url, pinned_request

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-AudioText-Signature"
TIMESTAMP_HEADER = "X-AudioText-Timestamp"
EVENT_HEADER = "X-AudioText-Event"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp.body``: receivers recompute it and compare."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookSender:
    def __init__(
        self, settings: Settings, repo: JobRepository, *, backoff_seconds: float = 1.0
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.backoff_seconds = backoff_seconds
        self._tasks: set[asyncio.Task[bool]] = set()

    def check_configuration(self) -> None:
        """Said once at start-up, so operators learn why callbacks are refused."""
        if not self.settings.webhook_secret.get_secret_value():
            log.warning(
                "AUDIOTEXT_WEBHOOK_SECRET is not set: jobs with a callback_url are refused "
                "(422), since unsigned webhooks could be forged"
            )

    async def on_final(self, job: JobPublic) -> None:
        """Final-state hook: deliver in the background so the state change is not held up."""
        if not job.callback_url:
            return
        task = asyncio.create_task(self.deliver(job), name=f"webhook-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, job: JobPublic) -> bool:
        assert job.callback_url
        body = json.dumps(job.event(), separators=(",", ":")).encode()
        secret = self.settings.webhook_secret.get_secret_value().encode()
        if not secret:
            # A job accepted before the secret was removed: never send a forgeable delivery.
            await self._record(job.id, 0, "failed: AUDIOTEXT_WEBHOOK_SECRET is not set")
            return False
        status = "not delivered"
        attempts = 0
        async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
            for attempt in range(1, self.settings.webhook_max_attempts + 1):
                attempts = attempt
                try:
                    # Checked and resolved on every attempt; sent only to the addresses checked.
                    addresses = await check_outbound_url(
                        job.callback_url, allow_private=self.settings.webhook_allow_private
                    )
                    timestamp = str(int(time.time()))
                    headers = {
                        "Content-Type": "application/json",
                        TIMESTAMP_HEADER: timestamp,
                        SIGNATURE_HEADER: sign(secret, timestamp, body),
                        EVENT_HEADER: f"job.{job.status.value}",
                    }
                    response = await _post_pinned(
                        client, job.callback_url, addresses, body, headers
                    )
                    status = f"HTTP {response.status_code}"
                    if response.is_success:
                        await self._record(job.id, attempts, f"delivered ({status})")
                        return True
                    if 400 <= response.status_code < 500 and response.status_code not in (
                        408,
                        429,
                    ):
                        break  # the receiver refuses it; retrying will not change that
                except AudioTextError as exc:
                    status = exc.message
                    break
                except httpx.HTTPError as exc:
                    status = f"{type(exc).__name__}: {exc}"
                await self._record(job.id, attempts, f"retrying after {status}")
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        log.warning("webhook for job %s failed: %s", job.id, status)
        await self._record(job.id, attempts, f"failed: {status}"[:255])
        return False

    async def _record(self, job_id: str, attempts: int, status: str) -> None:
        try:
            await self.repo.update_fields(
                job_id, callback_attempts=attempts, callback_status=status[:255]
            )
        except AudioTextError as exc:
            log.warning("could not record webhook delivery of %s: %s", job_id, exc.message)

    async def close(self, timeout: float = 10.0) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()


async def _post_pinned(
    client: httpx.AsyncClient,
    url: str,
    addresses: list[str],
    body: bytes,
    headers: dict[str, str],
) -> httpx.Response:
    """POST to each checked address in turn until one accepts the connection."""
    refused: httpx.ConnectError | None = None
    for address in addresses:
        target = pinned_request(url, address)
        try:
            return await client.post(
                target.url,
                content=body,
                headers={**target.headers, **headers},
                extensions=target.extensions,
            )
        except httpx.ConnectError as exc:
            refused = exc
    assert refused is not None, "check_outbound_url gives at least one address"
    raise refused
