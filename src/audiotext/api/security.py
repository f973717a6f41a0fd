"""API-key authentication, per-key rate limits, request timeouts and security headers (ASGI)."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audiotext.api.errors import send_error
from audiotext.jobs.errors import AudioTextError, GatewayTimeout, RateLimited
from audiotext.wiring import Services

PUBLIC_PATHS = frozenset(
    {
        "/api/v1",
        "/healthz",
        "/readyz",
        "/metrics",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
        "/",
        "/api/v1/options",
    }
)
# Presigned local uploads carry their own signed token; so do the web app's files, which
# hold no data (the app asks for a key itself).
PUBLIC_PREFIXES = ("/api/v1/audio/upload/", "/app/")
AUDIO_PATH = re.compile(r"^/api/v1/job/[^/]+/audio$")


def signed_audio_link(scope: Scope) -> bool:
    """A request for a job's audio through a signed link (the route checks the signature)."""
    return (
        scope["type"] == "http"
        and scope["method"] in ("GET", "HEAD")
        and AUDIO_PATH.match(scope["path"]) is not None
        and b"access=" in scope.get("query_string", b"")
    )


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class TokenBucket:
    """Requests per minute for one key: a burst of ``rate`` then ``rate/60`` per second."""

    def __init__(self, rate_per_minute: int) -> None:
        self.capacity = float(rate_per_minute)
        self.tokens = float(rate_per_minute)
        self.refill = rate_per_minute / 60.0
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 when allowed, else the seconds until the next request would be."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    if scope["type"] == "websocket":
        # Browsers cannot set headers on a WebSocket: a token in the query string is accepted.
        from urllib.parse import parse_qs

        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        tokens = query.get("token") or query.get("api_key")
        return tokens[0] if tokens else None
    return None


class AuthMiddleware:
    def __init__(self, app: ASGIApp, services: Callable[[], Services]) -> None:
        self.app = app
        self.services = services
        self.buckets: dict[str, TokenBucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        services = self.services()
        path = scope["path"]
        if (
            not services.settings.auth
            or path in PUBLIC_PATHS
            or path.startswith(PUBLIC_PREFIXES)
            or signed_audio_link(scope)
            or (scope["type"] == "http" and scope["method"] == "OPTIONS")
        ):
            await self.app(scope, receive, send)
            return
        try:
            key = await services.keys.authenticate(bearer_token(scope))
            self._check_rate(key.id, services.settings.rate_limit_per_minute)
        except AudioTextError as exc:
            await deny(scope, send, exc)
            return
        state = scope.setdefault("state", {})
        state["owner"] = key.id
        state["queue"] = key.queue
        await self.app(scope, receive, send)

    def _check_rate(self, key_id: str, rate: int) -> None:
        if rate <= 0:
            return
        bucket = self.buckets.get(key_id)
        if bucket is None:
            bucket = self.buckets[key_id] = TokenBucket(rate)
        wait = bucket.take()
        if wait > 0:
            raise RateLimited(f"rate limit of {rate} requests per minute reached", math.ceil(wait))


async def deny(scope: Scope, send: Send, exc: AudioTextError) -> None:
    """Refuse a request (or a WebSocket before it is accepted) with ``exc``."""
    challenge = {"WWW-Authenticate": 'Bearer realm="audiotext"'} if exc.status_code == 401 else {}
    await send_error(scope, send, exc, challenge)


class TimeoutMiddleware:
    """Cut off plain API requests that take too long (uploads and long waits are exempt)."""

    def __init__(
        self,
        app: ASGIApp,
        seconds: Callable[[], float],
        exempt: tuple[str, ...],
        streams: re.Pattern[str] = AUDIO_PATH,
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.exempt = exempt
        self.streams = streams  # bodies a client reads at its own pace (a player's audio)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if scope["type"] != "http" or path.startswith(self.exempt) or self.streams.match(path):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.seconds()):
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if not started:
                # 504, not 503: the backends are up, this one request was too slow.
                await send_error(scope, send, GatewayTimeout("the request took too long"))


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
