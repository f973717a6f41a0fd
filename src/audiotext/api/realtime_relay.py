"""The gateway's side of a live session that runs on a realtime server (the chart's realtime
Deployment): it has authenticated the client and counted the session against its key, then
relays the events both ways, unchanged, until either side closes."""

from __future__ import annotations

import asyncio
import contextlib

import websockets
from fastapi import WebSocket, WebSocketDisconnect, status
from websockets.asyncio.client import ClientConnection

from audiotext.jobs.errors import BackendUnavailable
from audiotext.realtime.slots import SessionsFull

# As large as the gateway's own WebSocket server takes (uvicorn's default).
MAX_EVENT_BYTES = 16 * 1024 * 1024
PATH = "/v1/realtime?intent=transcription"


async def open_upstream(base_url: str) -> ClientConnection:
    """A session on the realtime server; its refusals become the client's, before the upgrade."""
    try:
        return await websockets.connect(
            base_url.rstrip("/") + PATH, max_size=MAX_EVENT_BYTES, open_timeout=10
        )
    except websockets.InvalidStatus as exc:
        if exc.response.status_code == 429:
            raise SessionsFull("the live-transcription servers are full; try again soon") from exc
        raise BackendUnavailable(
            f"the live-transcription server refused the session ({exc.response.status_code})"
        ) from exc
    except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
        raise BackendUnavailable(f"the live-transcription server is unavailable: {exc}") from exc


async def relay(client: WebSocket, upstream: ClientConnection) -> None:
    async def to_upstream() -> None:
        while True:
            await upstream.send(await client.receive_text())

    async def to_client() -> None:
        async for event in upstream:
            await client.send_text(event if isinstance(event, str) else event.decode())

    async with upstream:
        tasks = [asyncio.create_task(to_upstream()), asyncio.create_task(to_client())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for task in tasks:
            # A side that closed ends its task with its own error: the session is over.
            with contextlib.suppress(
                asyncio.CancelledError,
                WebSocketDisconnect,
                RuntimeError,
                websockets.ConnectionClosed,
            ):
                await task
    with contextlib.suppress(Exception):
        await client.close(code=status.WS_1000_NORMAL_CLOSURE)
