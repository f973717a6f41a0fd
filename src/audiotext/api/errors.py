"""The one place where errors become HTTP responses."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from audiotext.jobs.errors import AudioTextError

log = logging.getLogger(__name__)

OPENAI_PREFIX = "/v1/"


def openai_error_type(status: int) -> str:
    """OpenAI's error ``type`` for a status, so its SDK and clients read the error right."""
    if status in (401, 403):
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    if status == 503:
        return "service_unavailable"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_status(path: str, status: int) -> int:
    """The status an error is answered with: OpenAI never answers 422, an invalid parameter
    is its 400 ``invalid_request_error``, so under ``/v1/`` a 422 is a 400."""
    return 400 if status == 422 and path.startswith(OPENAI_PREFIX) else status


def error_body(
    path: str, status: int, message: str, code: str, param: str | None = None
) -> dict[str, Any]:
    """The JSON of an error: OpenAI's shape under ``/v1/``, ours elsewhere."""
    if path.startswith(OPENAI_PREFIX):
        # OpenAI's error shape, so its SDK raises the matching exception class.
        return {
            "error": {
                "message": message,
                "type": openai_error_type(status),
                "param": param,
                "code": code,
            }
        }
    body = {"detail": message, "code": code}
    return {**body, "param": param} if param else body


def error_response(
    request: Request,
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> JSONResponse:
    path = request.url.path
    body = error_body(path, status, message, code, param)
    return JSONResponse(body, status_code=error_status(path, status), headers=headers)


async def send_error(
    scope: Scope, send: Send, exc: AudioTextError, headers: dict[str, str] | None = None
) -> None:
    """Answer with ``exc`` straight from ASGI middleware (before or instead of the app).

    On a WebSocket that is not accepted yet this is an HTTP response too (the denial
    response extension), so a client sees the same status and body as over plain HTTP.
    """
    body = error_body(scope["path"], exc.status_code, exc.message, exc.code, exc.param)
    status = error_status(scope["path"], exc.status_code)
    data = json.dumps(body).encode()
    extra = {**getattr(exc, "headers", {}), **(headers or {})}
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(name.lower().encode(), value.encode()) for name, value in extra.items()]
    if scope["type"] == "websocket":
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008, "reason": exc.message[:120]})
            return
        await send({"type": "websocket.http.response.start", "status": status, "headers": raw})
        await send({"type": "websocket.http.response.body", "body": data})
        return
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


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
        return error_response(request, exc.status_code, exc.message, exc.code, headers, exc.param)

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
