"""The event buses: in order, fan-out to every subscriber, and a timed-out wait is harmless."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from audiotext.bus.memory import MemoryBus
from audiotext.bus.redis import SUBSCRIBE_WAIT_SECONDS, RedisBus

from helpers import make_settings, running_app
from support.servers import RedisServer


async def test_fanout_in_order_and_survives_timeouts() -> None:
    bus = MemoryBus()
    async with bus.subscribe("j") as first, bus.subscribe("j") as second:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await anext(first)  # nothing yet: the wait times out
        for n in range(5):
            await bus.publish("j", {"n": n})
        assert [(await anext(first))["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
        assert [(await anext(second))["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
    assert await bus.last("j") == {"n": 4}
    await bus.publish("j", {"n": 5})  # nobody listens: no error, remembered
    assert await bus.last("j") == {"n": 5}


@pytest.mark.redis
async def test_redis_bus_delivers_events_published_right_after_start(
    redis_server: RedisServer,
) -> None:
    bus, sender = RedisBus(redis_server.url), RedisBus(redis_server.url)
    try:
        async with bus.subscribe("j") as events:
            await bus.start()
            await sender.publish("j", {"n": 1})
            async with asyncio.timeout(3):
                assert await anext(events) == {"n": 1}
        await bus.ping()
    finally:
        await bus.close()
        await sender.close()


@pytest.mark.redis
@pytest.mark.slow
async def test_gateway_starts_with_redis_down_and_subscribes_when_it_is_back(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, redis_url=redis_server.url)
    await asyncio.to_thread(redis_server.stop)
    try:
        started = time.monotonic()
        async with running_app(settings) as (app, client):
            assert time.monotonic() - started < SUBSCRIBE_WAIT_SECONDS + 5
            ready = (await client.get("/readyz")).json()
            assert ready["checks"]["bus"].startswith("unavailable"), ready
            await asyncio.to_thread(redis_server.start)
            for _ in range(100):
                ready = (await client.get("/readyz")).json()
                if ready["checks"]["bus"] == "ok":
                    break
                await asyncio.sleep(0.1)
            assert ready["checks"]["bus"] == "ok", ready
            bus = app.state.services.bus
            async with bus.subscribe("j") as events:
                await bus.publish("j", {"n": 2})
                async with asyncio.timeout(3):
                    assert await anext(events) == {"n": 2}
    finally:
        await asyncio.to_thread(redis_server.start)
