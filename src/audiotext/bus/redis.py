"""Redis pub/sub bus: one pattern subscription per process fans out to all local subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from audiotext.bus.base import CHANNEL_PREFIX, Event, LocalFanout, event_text, job_channel
from audiotext.jobs.errors import BackendUnavailable

log = logging.getLogger(__name__)

LAST_STATE_TTL_SECONDS = 24 * 3600
# How long start() waits for the subscription: events published earlier would reach no one,
# but a Redis that is down must not keep the gateway from starting.
SUBSCRIBE_WAIT_SECONDS = 3.0


def last_state_key(job_id: str) -> str:
    return f"{CHANNEL_PREFIX}:last:{job_id}"


class RedisBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = aioredis.from_url(
            url, socket_connect_timeout=3, socket_timeout=5, health_check_interval=15
        )
        self.fanout = LocalFanout()
        self._listener: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    async def publish(self, job_id: str, event: Event) -> None:
        data = event_text(event)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(last_state_key(job_id), data, ex=LAST_STATE_TTL_SECONDS)
                pipe.publish(job_channel(job_id), data)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"redis unavailable: {exc}") from exc

    def subscribe(self, job_id: str) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        return self.fanout.subscribe(job_id)

    async def last(self, job_id: str) -> Event | None:
        try:
            data = await self.client.get(last_state_key(job_id))
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"redis unavailable: {exc}") from exc
        if data is None:
            return None
        event: Event = json.loads(data)
        return event

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="redis-bus-listener")
        try:
            async with asyncio.timeout(SUBSCRIBE_WAIT_SECONDS):
                await self._connected.wait()
        except TimeoutError:
            log.warning("redis subscription not ready yet; live updates start once it is")

    async def _listen(self) -> None:
        """Keep one pattern subscription alive, reconnecting with backoff when Redis goes away."""
        delay = 0.2
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.psubscribe(f"{CHANNEL_PREFIX}:*")
                # Sending the command is not enough: only Redis's confirmation says that
                # events published from now on will arrive.
                while (await pubsub.get_message(timeout=1.0) or {}).get("type") != "psubscribe":
                    pass
                self._connected.set()
                delay = 0.2
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "pmessage":
                        continue
                    channel = message["channel"].decode()
                    job_id = channel.split(":", 1)[1]
                    if self.fanout.wants(job_id):
                        data = message["data"]
                        self.fanout.deliver(job_id, json.loads(data), data.decode())
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._connected.clear()
                log.warning("redis subscription lost (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def ping(self) -> None:
        """Redis answers and this process is subscribed (else its clients get no events)."""
        try:
            await asyncio.wait_for(self.client.ping(), timeout=3)
        except (RedisError, OSError, TimeoutError) as exc:
            raise BackendUnavailable(f"redis unavailable: {exc}") from exc
        if not self._connected.is_set():
            raise BackendUnavailable("redis answers but the event subscription is not up yet")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self.client.aclose()
