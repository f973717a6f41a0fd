"""Health, readiness, version and metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from audiotext import __version__
from audiotext.api.deps import ServicesDep
from audiotext.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/api/v1", response_model=HealthPublic, summary="Health and version")
async def api_root(services: ServicesDep) -> HealthPublic:
    return HealthPublic(
        name="audiotext", version=__version__, status="ok", executor=services.settings.executor
    )


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: every backend answers")
async def readyz(services: ServicesDep) -> JSONResponse:
    probes: dict[str, Any] = {
        "database": services.db.ping,
        "storage": services.storage.ping,
        "bus": services.bus.ping,
    }
    if services.executor is not None:
        probes["executor"] = services.executor.ping

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
async def metrics(request: Request, services: ServicesDep) -> Response:
    await request.app.state.finished_jobs.refresh(services.jobs)
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
