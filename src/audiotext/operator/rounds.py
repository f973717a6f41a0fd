"""Operator-wide loops: one coroutine run every few seconds while the operator runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def start_rounds(
    name: str, every: float, one_round: Callable[[], Awaitable[None]], failure: str
) -> asyncio.Task[None]:
    """Run ``one_round`` every ``every`` seconds; a round that fails is logged with
    ``failure``, and the loop goes on (it must outlive any one bad round)."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await one_round()
            except Exception:
                log.exception("%s; retrying", failure)

    return asyncio.create_task(loop(), name=name)


async def stop_rounds(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
