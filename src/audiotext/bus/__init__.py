"""Event bus backends, chosen by ``AUDIOTEXT_REDIS_URL``."""

from __future__ import annotations

from audiotext.bus.base import CHANNEL_PREFIX, Event, EventBus, job_channel
from audiotext.config import Settings

__all__ = ["CHANNEL_PREFIX", "Event", "EventBus", "job_channel", "open_bus"]


def open_bus(settings: Settings) -> EventBus:
    if settings.redis_url:
        from audiotext.bus.redis import RedisBus

        return RedisBus(settings.redis_url)
    from audiotext.bus.memory import MemoryBus

    return MemoryBus()
