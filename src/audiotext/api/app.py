"""``create_app(settings)``: the gateway, with a lifespan that opens and closes every backend."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from audiotext import __version__
from audiotext.api.errors import install_error_handlers
from audiotext.api.metrics import FinishedJobsCollector
from audiotext.api.middleware import BodyLimitMiddleware, MetricsMiddleware
from audiotext.api.routes import (
    health,
    job_audio,
    jobs,
    openai_audio,
    openai_models,
    realtime,
    uploads,
    web,
    ws,
)
from audiotext.api.security import AuthMiddleware, SecurityHeadersMiddleware, TimeoutMiddleware
from audiotext.config import Settings
from audiotext.realtime.slots import DecodeGate, SessionSlots
from audiotext.wiring import open_services

log = logging.getLogger(__name__)

UPLOAD_PATHS = ("/api/v1/job/transcribe", "/v1/audio/", "/api/v1/audio/upload/")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = CollectorRegistry()
    finished_jobs = FinishedJobsCollector()
    registry.register(finished_jobs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = open_services(settings, "gateway")
        app.state.services = services
        app.state.engines = services.engines
        try:
            await services.start()
            yield
        finally:
            await services.close()

    app = FastAPI(
        title="AudioText",
        version=__version__,
        description="Self-hosted speech to text with Whisper: REST, WebSocket and "
        "OpenAI-compatible endpoints.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = registry
    app.state.finished_jobs = finished_jobs
    # Relayed to realtime servers, sessions are bounded there (each its own), and here per key.
    app.state.realtime_slots = SessionSlots(
        None if settings.realtime_url else settings.realtime_sessions,
        settings.realtime_sessions_per_key,
    )
    app.state.realtime_decodes = DecodeGate(settings.realtime_decodes)
    install_error_handlers(app)
    routers = (health, uploads, job_audio, jobs, ws, openai_audio, openai_models, realtime, web)
    for router in (module.router for module in routers):
        app.include_router(router)
    app.mount("/app", StaticFiles(directory=web.WEB_ROOT), name="app")
    # Added innermost first: metrics → security headers → CORS → auth → body limit → timeout.
    # Uploads are exempt from the request timeout (a large file takes long); the body limit
    # bounds them instead, by size and by the pause between chunks.
    app.add_middleware(
        TimeoutMiddleware,
        seconds=lambda: settings.request_timeout_seconds,
        exempt=(*UPLOAD_PATHS, "/api/v1/job/ws/", "/v1/realtime"),
    )
    app.add_middleware(
        BodyLimitMiddleware,
        limit=lambda: settings.max_upload_bytes,
        idle_seconds=lambda: settings.upload_idle_timeout_seconds,
        paths=UPLOAD_PATHS,
    )
    app.add_middleware(AuthMiddleware, services=lambda: app.state.services)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # Credentials are never combined with a wildcard origin.
            allow_credentials="*" not in settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, registry=registry)
    return app
