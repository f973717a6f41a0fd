"""Live job updates over WebSocket: the current state, every change, the final state, close."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from audiotext.api.deps import JobServiceDep, OwnerDep
from audiotext.api.errors import send_error
from audiotext.bus.base import event_text
from audiotext.jobs.errors import AudioTextError
from audiotext.services.jobs import JobService, job_events

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
    async for event in job_events(jobs, job_id, owner=owner, poll_seconds=POLL_SECONDS):
        await websocket.send_text(event_text(event))
    await websocket.close(code=status.WS_1000_NORMAL_CLOSURE)
