"""The one place where errors become HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from audiotext.jobs.errors import AudioTextError

log = logging.getLogger(__name__)

OPENAI_PREFIX = "/v1/"


def _openai_type(status: int) -> str:
    if status in (401, 403):
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_response(
    request: Request, status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any]
    if request.url.path.startswith(OPENAI_PREFIX):
        # OpenAI's error shape, so its SDK raises the matching exception class.
        body = {
            "error": {"message": message, "type": _openai_type(status), "param": None, "code": code}
        }
    else:
        body = {"detail": message, "code": code}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "invalid parameters: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AudioTextError)
    async def audiotext_error(request: Request, exc: AudioTextError) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        return error_response(request, exc.status_code, exc.message, exc.code, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, 422, _validation_message(exc), "invalid_parameter")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(
            request, exc.status_code, str(exc.detail), code, dict(exc.headers or {})
        )

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal server error", "internal_error")
