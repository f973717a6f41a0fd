"""ASGI middleware: upload limits enforced while the body streams in, and request metrics."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Multipart framing and form fields around the file; the saved file itself is held to the
# exact limit by the job service.
MULTIPART_SLACK = 64 * 1024


class BodyLimitMiddleware:
    """Cut a request off with 413 as soon as its body passes the limit, without buffering it."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int], paths: tuple[str, ...]) -> None:
        self.app = app
        self.limit = limit
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.paths):
            await self.app(scope, receive, send)
            return
        limit = self.limit() + MULTIPART_SLACK
        openai = scope["path"].startswith("/v1/")
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit - MULTIPART_SLACK, openai)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the app's own error response is replaced by our 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if exceeded and not started:
            await _too_large(send, limit - MULTIPART_SLACK, openai)


class _BodyTooLarge(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int, openai: bool) -> None:
    message = f"the upload is larger than the limit of {limit} bytes"
    body: dict[str, object] = (
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": "file",
                "code": "payload_too_large",
            }
        }
        if openai
        else {"detail": message, "code": "payload_too_large"}
    )
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class MetricsMiddleware:
    """Request count and latency per route template (never per raw path: bounded cardinality)."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "audiotext_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "audiotext_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = _route_of(scope)
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - start)


def _route_of(scope: Scope) -> str:
    # The router records the matched route in the (shared) scope.
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))
