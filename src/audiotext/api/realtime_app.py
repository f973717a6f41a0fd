"""``create_realtime_app(settings)``: a live-transcription server alone (``audiotext
realtime``), for the chart's realtime Deployment: its model stays loaded, and the gateway
authenticates each session and relays it here. No database, storage or bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from audiotext import __version__
from audiotext.api.errors import install_error_handlers
from audiotext.api.routes import realtime
from audiotext.config import Settings
from audiotext.engine import EngineRegistry, TranscribeOptions
from audiotext.realtime.slots import DecodeGate, SessionSlots


def create_realtime_app(settings: Settings) -> FastAPI:
    settings = settings.model_copy(update={"realtime_url": ""})  # it serves, never relays
    engines = EngineRegistry(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Loaded before the server accepts anyone (and so before the pod is ready): the first
        # session does not wait for it.
        await asyncio.to_thread(warm_up, engines, settings)
        yield

    app = FastAPI(title="AudioText live transcription", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.engines = engines
    app.state.realtime_slots = SessionSlots(
        settings.realtime_sessions, settings.realtime_sessions_per_key
    )
    app.state.realtime_decodes = DecodeGate(settings.realtime_decodes)
    install_error_handlers(app)
    app.include_router(realtime.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, object]:
        return {"status": "ok", "sessions": app.state.realtime_slots.total()}

    return app


def warm_up(engines: EngineRegistry, settings: Settings) -> None:
    """Decode a moment of silence with the default model, so that it is loaded."""
    import numpy as np

    from audiotext.pipeline import transcribe_audio

    silence = np.zeros(16_000, dtype=np.float32)
    options = TranscribeOptions(model=settings.model, vad_filter=False, word_timestamps=False)
    transcribe_audio(engines.get(), silence, options)
