"""Live transcription: ``GET /v1/realtime?intent=transcription`` speaks OpenAI's Realtime
transcription protocol over a WebSocket (the official SDK's realtime client works)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from audiotext.api.deps import OwnerDep
from audiotext.api.errors import send_error
from audiotext.api.realtime_relay import open_upstream, relay
from audiotext.config import Settings
from audiotext.engine import EngineRegistry
from audiotext.jobs.errors import AudioTextError, BackendUnavailable, InvalidParameter
from audiotext.realtime.protocol import ProtocolError, SessionConfig, error_event
from audiotext.realtime.slots import DecodeGate, SessionSlots

router = APIRouter(tags=["openai"])


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket, owner: OwnerDep) -> None:
    state = websocket.app.state
    settings: Settings = state.settings
    slots: SessionSlots = state.realtime_slots
    upstream = None
    try:
        if websocket.query_params.get("intent") != "transcription":
            raise InvalidParameter(
                "this server serves transcription sessions: ?intent=transcription"
            )
        if not settings.realtime_url and importlib.util.find_spec("numpy") is None:
            raise BackendUnavailable(
                "live transcription runs where the engine is installed (audiotext[engine]), "
                "or on a realtime server (AUDIOTEXT_REALTIME_URL)"
            )
        release = slots.take(owner)
        if settings.realtime_url:
            try:
                upstream = await open_upstream(settings.realtime_url)
            except AudioTextError:
                release()
                raise
    except AudioTextError as exc:
        # Refused before the upgrade, as plain HTTP (429 when the sessions are full).
        await send_error(websocket.scope, websocket.send, exc)
        return
    try:
        await websocket.accept()
        if upstream is not None:
            await relay(websocket, upstream)
        else:
            await _serve(websocket, settings, state.engines, state.realtime_decodes)
    finally:
        release()


async def _serve(
    websocket: WebSocket, settings: Settings, engines: EngineRegistry, gate: DecodeGate
) -> None:
    # Here, not at the top: the gateway's image has no engine (nor numpy).
    from audiotext.realtime.runner import decoder, model_names, speech_probabilities
    from audiotext.realtime.session import LiveSession

    async def send(event: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.send_text(json.dumps(event, ensure_ascii=False))

    session = LiveSession(
        SessionConfig(model=settings.model),
        model_names(settings),
        send,
        decoder(engines.get(), settings),
        speech_probabilities,
        gate,
    )
    idle_seconds = settings.realtime_idle_seconds
    await session.start()
    try:
        while True:
            try:
                async with asyncio.timeout(idle_seconds):
                    text = await websocket.receive_text()
            except TimeoutError:
                idle = ProtocolError(
                    f"nothing was sent for {idle_seconds:.0f} s: the session is closed",
                    "session_idle",
                )
                await send(error_event(idle))
                break
            try:
                message = json.loads(text)
            except ValueError:
                await send(error_event(ProtocolError("an event is JSON", "invalid_json")))
                continue
            await session.handle(message)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await session.close()
    with contextlib.suppress(Exception):
        await websocket.close(code=status.WS_1000_NORMAL_CLOSURE)
