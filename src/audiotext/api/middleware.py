"""ASGI middleware: upload limits (size and pace) enforced while the body streams in, and
request metrics."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audiotext.api.errors import send_error
from audiotext.jobs.errors import AudioTextError, PayloadTooLarge, RequestTimeout

# Multipart framing and form fields around the file; the saved file itself is held to the
# exact limit by the job service.
MULTIPART_SLACK = 64 * 1024


class BodyLimitMiddleware:
    """Cut an upload off as soon as its body passes the size limit (413), without buffering
    it, or when the client stops sending it for longer than the idle timeout (408)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: Callable[[], int],
        idle_seconds: Callable[[], float],
        paths: tuple[str, ...],
    ) -> None:
        self.app = app
        self.limit = limit
        self.idle_seconds = idle_seconds
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.paths):
            await self.app(scope, receive, send)
            return
        limit = self.limit() + MULTIPART_SLACK
        too_large = PayloadTooLarge(f"the upload is larger than the limit of {self.limit()} bytes")
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await send_error(scope, send, too_large, CLOSE)
            return
        idle = self.idle_seconds()
        received = 0
        body_done = False
        refused: AudioTextError | None = None
        started = False

        async def limited_receive() -> Message:
            nonlocal received, body_done, refused
            if body_done:
                # After the body only a disconnect can come, whenever it comes: no timeout.
                return await receive()
            try:
                async with asyncio.timeout(idle):
                    message = await receive()
            except TimeoutError:
                refused = RequestTimeout(
                    f"no part of the upload arrived for {idle:g} seconds; send the body "
                    "without pausing"
                )
                raise _UploadRefused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    refused = too_large
                    raise _UploadRefused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused is not None:
                return  # the app's own error response is replaced by ours
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_UploadRefused):
            await self.app(scope, limited_receive, guarded_send)
        if refused is not None and not started:
            await send_error(scope, send, refused, CLOSE)


# The rest of a refused body is never read: the connection cannot carry another request.
CLOSE = {"Connection": "close"}


class _UploadRefused(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


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
