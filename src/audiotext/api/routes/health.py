"""Health, readiness, version and metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from audiotext import __version__
from audiotext.api.deps import BackendsDep
from audiotext.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/api/v1", response_model=HealthPublic, summary="Health and version")
async def api_root(backends: BackendsDep) -> HealthPublic:
    return HealthPublic(
        name="audiotext", version=__version__, status="ok", executor=backends.settings.executor
    )


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: every backend answers")
async def readyz(backends: BackendsDep) -> JSONResponse:
    probes: dict[str, Any] = {
        "database": backends.db.ping,
        "storage": backends.storage.ping,
        "bus": backends.bus.ping,
        "executor": backends.executor.ping,
    }

    async def check(probe: Any) -> str:
        try:
            await asyncio.wait_for(probe(), timeout=5)
        except Exception as exc:
            return f"unavailable: {getattr(exc, 'message', None) or exc or type(exc).__name__}"
        return "ok"

    results = await asyncio.gather(*(check(p) for p in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
