"""The event bus interface: job updates fanned out to WebSocket clients."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

CHANNEL_PREFIX = "job_updates"

Event = dict[str, Any]


class EventBus(Protocol):
    async def publish(self, job_id: str, event: Event) -> None:
        """Send ``event`` to every subscriber of ``job_id`` and remember it as the last state."""

    def subscribe(self, job_id: str) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        """Events of one job, in order, from the moment the context is entered."""

    async def last(self, job_id: str) -> Event | None:
        """The last event published for ``job_id``, for tools that read the bus.

        The gateway does not need it: every change reaches the database before its event
        is published, so the database is never older than this.
        """

    async def start(self) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class EncodedEvent(dict[str, Any]):
    """An event with its JSON text: encoded once per process, not once per WebSocket client
    (with a thousand clients on a job, encoding was a thousand times the work)."""

    __slots__ = ("text",)

    def __init__(self, event: Event, text: str) -> None:
        super().__init__(event)
        self.text = text


def event_text(event: Event) -> str:
    """The JSON text of an event: the bus's wire form, and what WebSocket clients receive."""
    return event.text if isinstance(event, EncodedEvent) else json.dumps(event, default=str)


class LocalFanout:
    """This process's subscribers, each with its own queue, grouped by job."""

    def __init__(self) -> None:
        self._queues: defaultdict[str, set[asyncio.Queue[Event]]] = defaultdict(set)

    def deliver(self, job_id: str, event: Event, text: str | None = None) -> None:
        """Hand ``event`` (JSON ``text``, when the bus has it already) to each subscriber."""
        queues = self._queues.get(job_id)
        if not queues:
            return
        encoded = EncodedEvent(event, text if text is not None else event_text(event))
        for queue in queues:
            queue.put_nowait(encoded)

    def wants(self, job_id: str) -> bool:
        return job_id in self._queues

    @asynccontextmanager
    async def subscribe(self, job_id: str) -> AsyncIterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues[job_id].add(queue)
        try:
            yield Subscription(queue)
        finally:
            self._queues[job_id].discard(queue)
            if not self._queues[job_id]:
                del self._queues[job_id]

    def clear(self) -> None:
        self._queues.clear()


class Subscription:
    """Events of one job, in order.

    A class rather than an async generator: a reader that gives up waiting (a timeout)
    cancels only that wait, while a cancelled generator would be finished for good.
    """

    def __init__(self, queue: asyncio.Queue[Event]) -> None:
        self.queue = queue

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.queue.get()


def job_channel(job_id: str) -> str:
    return f"{CHANNEL_PREFIX}:{job_id}"
