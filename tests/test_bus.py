"""The event buses: in order, fan-out to every subscriber, and a timed-out wait is harmless."""

from __future__ import annotations

import asyncio

import pytest

from audiotext.bus.memory import MemoryBus


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
