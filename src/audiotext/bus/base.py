"""The event bus interface: job updates fanned out to WebSocket clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

CHANNEL_PREFIX = "job_updates"

Event = dict[str, Any]


class EventBus(Protocol):
    async def publish(self, job_id: str, event: Event) -> None:
        """Send ``event`` to every subscriber of ``job_id`` and remember it as the last state."""

    def subscribe(self, job_id: str) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        """Events of one job, in order, from the moment the context is entered."""

    async def last(self, job_id: str) -> Event | None: ...

    async def start(self) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def job_channel(job_id: str) -> str:
    return f"{CHANNEL_PREFIX}:{job_id}"
