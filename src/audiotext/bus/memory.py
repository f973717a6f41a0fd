"""An in-process event bus for the local mode: asyncio queues, no server."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from audiotext.bus.base import Event

_REMEMBERED = 10_000


class MemoryBus:
    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._last: OrderedDict[str, Event] = OrderedDict()

    async def publish(self, job_id: str, event: Event) -> None:
        self._last[job_id] = event
        self._last.move_to_end(job_id)
        while len(self._last) > _REMEMBERED:
            self._last.popitem(last=False)
        for queue in self._subscribers.get(job_id, ()):
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, job_id: str) -> AsyncIterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers[job_id].add(queue)
        try:
            yield _drain(queue)
        finally:
            self._subscribers[job_id].discard(queue)
            if not self._subscribers[job_id]:
                del self._subscribers[job_id]

    async def last(self, job_id: str) -> Event | None:
        return self._last.get(job_id)

    async def start(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._subscribers.clear()


async def _drain(queue: asyncio.Queue[Event]) -> AsyncIterator[Event]:
    while True:
        yield await queue.get()
