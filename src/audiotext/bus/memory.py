"""An in-process event bus for the local mode: asyncio queues, no server."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from audiotext.bus.base import Event, LocalFanout

_REMEMBERED = 10_000


class MemoryBus:
    def __init__(self) -> None:
        self.fanout = LocalFanout()
        self._last: OrderedDict[str, Event] = OrderedDict()

    async def publish(self, job_id: str, event: Event) -> None:
        self._last[job_id] = event
        self._last.move_to_end(job_id)
        while len(self._last) > _REMEMBERED:
            self._last.popitem(last=False)
        self.fanout.deliver(job_id, event)

    def subscribe(self, job_id: str) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        return self.fanout.subscribe(job_id)

    async def last(self, job_id: str) -> Event | None:
        return self._last.get(job_id)

    async def start(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self.fanout.clear()
