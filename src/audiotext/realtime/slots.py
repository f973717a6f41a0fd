"""How many live sessions a process and each API key hold at once, and how many of their
decodes run at once."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

from audiotext.jobs.errors import AudioTextError


class SessionsFull(AudioTextError):
    status_code = 429
    code = "too_many_sessions"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": "5"}


class SessionSlots:
    """Sessions open now, per process (``per_process`` None: no bound here, as where the
    sessions are relayed to realtime servers that bound their own) and per API key."""

    def __init__(self, per_process: int | None, per_key: int) -> None:
        self.per_process = per_process
        self.per_key = per_key
        self.open: collections.Counter[str] = collections.Counter()

    def total(self) -> int:
        return sum(self.open.values())

    def take(self, owner: str | None) -> Callable[[], None]:
        """A session for ``owner``, or ``SessionsFull``; call what it returns to give it back."""
        who = owner or ""
        if self.per_process is not None and self.total() >= self.per_process:
            raise SessionsFull(
                f"this server holds {self.per_process} live sessions at once; try again soon"
            )
        if owner is not None and self.open[who] >= self.per_key:
            raise SessionsFull(f"this API key may hold {self.per_key} live sessions at once")
        self.open[who] += 1

        def release() -> None:
            self.open[who] -= 1

        return release


class DecodeGate:
    """Live decodes running at once in a process. A turn's final decode waits for a place;
    a partial decode is skipped while there is none, so that when the process is busy the
    preview gives way and the turns' transcripts stay on time."""

    def __init__(self, size: int) -> None:
        self.places = asyncio.Semaphore(size)

    def busy(self) -> bool:
        return self.places.locked()
