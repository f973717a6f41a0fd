"""Live job updates over WebSocket: the current state, every change, the final state, close."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from audiotext.api.deps import JobServiceDep, OwnerDep
from audiotext.api.errors import send_error
from audiotext.bus.base import event_text
from audiotext.jobs.errors import AudioTextError
from audiotext.jobs.states import JobStatus
from audiotext.services.jobs import JobService

router = APIRouter(tags=["jobs"])

# Without an event for this long, the database is asked directly, so a client still sees the
# final state when the bus lost a message or was away.
POLL_SECONDS = 5.0


@router.websocket("/api/v1/job/ws/{job_id}")
async def job_updates(
    websocket: WebSocket, job_id: str, jobs: JobServiceDep, owner: OwnerDep
) -> None:
    try:
        await jobs.get(job_id, owner=owner)
    except AudioTextError as exc:
        # Refused before the upgrade, as plain HTTP: 404 for an unknown job (or another
        # key's), 503 with the database down, the same JSON body as the REST routes.
        await send_error(websocket.scope, websocket.send, exc)
        return
    await websocket.accept()
    try:
        await _stream(websocket, jobs, job_id, owner)
    except (WebSocketDisconnect, RuntimeError):
        return
    except AudioTextError as exc:
        with contextlib.suppress(Exception):
            await websocket.close(code=status.WS_1011_INTERNAL_ERROR, reason=exc.message[:120])
        return


async def _stream(websocket: WebSocket, jobs: JobService, job_id: str, owner: str | None) -> None:
    async with jobs.subscribe(job_id) as events:
        # Subscribed first, then read: no change can fall between the two.
        job = (await jobs.get(job_id, owner=owner)).event()
        await websocket.send_json(job)
        last = job
        while not JobStatus(last["status"]).is_final:
            try:
                async with asyncio.timeout(POLL_SECONDS):
                    event = await anext(events)
            except TimeoutError:
                event = (await jobs.get(job_id, owner=owner)).event()
            if event == last or _older(event, last):
                continue
            await websocket.send_text(event_text(event))
            last = event
    await websocket.close(code=status.WS_1000_NORMAL_CLOSURE)


def _older(event: dict[str, Any], last: dict[str, Any]) -> bool:
    # ISO timestamps in UTC compare as strings; an event from before what was sent is stale.
    return str(event.get("update_date", "")) < str(last.get("update_date", ""))
