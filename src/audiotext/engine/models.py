"""Models on demand: loaded when a job names one, shared while in use, unloaded after they
sit idle for ``AUDIOTEXT_MODEL_TTL_SECONDS`` (the memory goes back to the system)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from audiotext.jobs.errors import ModelNotFound

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """One model's place: its lock (concurrent requests share one load), the model once
    loaded, how many runs use it now, and when the last one ended."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    model: Any = None
    users: int = 0
    idle_since: float = 0.0


class ModelManager:
    """The models of one engine in this process. ``ttl`` seconds idle and a model goes;
    a negative ``ttl`` keeps every model loaded for good."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._guard = threading.Lock()  # over _slots, the users counts and _reaper
        self._reaper: threading.Thread | None = None

    @contextlib.contextmanager
    def use(self, name: str, load: Callable[[str], Any]) -> Iterator[Any]:
        """The model ``name``, loaded with ``load`` unless it is already; it stays loaded at
        least until the block ends."""
        with self._guard:
            slot = self._slots.setdefault(name, _Slot())
            slot.users += 1
        try:
            with slot.lock:
                if slot.model is None:
                    slot.model = _loaded(name, load)
            yield slot.model
        finally:
            with self._guard:
                slot.users -= 1
                slot.idle_since = self._clock()
            self._expire_later()

    def loaded(self) -> list[str]:
        with self._guard:
            return [name for name, slot in self._slots.items() if slot.model is not None]

    def unload_idle(self) -> list[str]:
        """Unload every model idle for ``ttl`` seconds or more; returns their names."""
        if self.ttl < 0:
            return []
        now = self._clock()
        with self._guard:
            idle = [
                (name, slot)
                for name, slot in self._slots.items()
                if slot.model is not None and not slot.users and now - slot.idle_since >= self.ttl
            ]
            for name, slot in idle:
                del self._slots[name]
                slot.model = None  # the last reference: the engine frees the model here
        if idle:
            for name, _ in idle:
                log.info("model %s unloaded after %.0fs idle", name, self.ttl)
            _give_back_memory()
        return [name for name, _ in idle]

    def _expire_later(self) -> None:
        """Make sure one thread is watching for idle models (while any is loaded)."""
        if self.ttl < 0:
            return
        with self._guard:
            if self._reaper is None:
                # The thread holds the manager weakly: a manager nobody uses any more goes,
                # its models with it, without waiting for their time to run out.
                self._reaper = threading.Thread(
                    target=_reap, args=(weakref.ref(self),), name="model-ttl", daemon=True
                )
                self._reaper.start()

    def _still_needed(self) -> bool:
        """Whether the watching thread should go on (any model loaded); if not, it ends."""
        with self._guard:
            if any(slot.model is not None for slot in self._slots.values()):
                return True
            self._reaper = None
            return False


def _reap(manager_ref: weakref.ReferenceType[ModelManager]) -> None:
    manager = manager_ref()
    if manager is None:
        return
    tick = max(0.05, min(manager.ttl, 60.0) / 4)
    del manager
    while True:
        time.sleep(tick)
        manager = manager_ref()
        if manager is None:
            return
        manager.unload_idle()
        if not manager._still_needed():
            return
        del manager


def _loaded(name: str, load: Callable[[str], Any]) -> Any:
    try:
        return load(name)
    except (ValueError, OSError, RuntimeError) as exc:
        raise ModelNotFound(f"model {name!r} cannot be loaded: {exc}") from exc


def _give_back_memory() -> None:
    """Free the unloaded model's memory now, and hand the heap's free pages back to the
    system (glibc keeps them otherwise), so the process's RSS comes down."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
