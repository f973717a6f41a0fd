"""One wiring: every entry point (gateway, operator, worker, CLI) opens its services here.

The database, storage, bus, job service and the job service's final-state hooks are built in
one place from the Settings, so no entry point can leave one out: whoever finishes a job (the
gateway, the local executor, a worker pod or the operator), its webhook is sent.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from audiotext.bus import EventBus, open_bus
from audiotext.config import Settings
from audiotext.db.repository import JobRepository
from audiotext.db.session import Database
from audiotext.engine import EngineRegistry
from audiotext.executor import Executor, open_executor
from audiotext.pipeline import run_job
from audiotext.services.audio_links import AudioLinks
from audiotext.services.jobs import JobService
from audiotext.services.keys import ApiKeyService
from audiotext.services.uploads import UploadService
from audiotext.services.webhooks import WebhookSender
from audiotext.storage import ObjectStorage, open_storage

Role = Literal["gateway", "operator", "worker", "cli"]


@dataclass(frozen=True)
class RoleNeeds:
    """What differs between the roles: only the gateway serves clients and runs an executor."""

    serves_clients: bool
    pool_size: int | None  # None: AUDIOTEXT_DATABASE_POOL_SIZE
    webhook_drain_seconds: float  # how long closing waits for deliveries still under way


ROLES: dict[Role, RoleNeeds] = {
    "gateway": RoleNeeds(serves_clients=True, pool_size=None, webhook_drain_seconds=10),
    "operator": RoleNeeds(serves_clients=False, pool_size=5, webhook_drain_seconds=10),
    # A worker's pod ends when it returns: a delivery it did not wait for is lost.
    "worker": RoleNeeds(serves_clients=False, pool_size=2, webhook_drain_seconds=60),
    "cli": RoleNeeds(serves_clients=False, pool_size=1, webhook_drain_seconds=10),
}


@dataclass
class Services:
    """Every backend and service of one process, opened and closed together."""

    role: Role
    settings: Settings
    db: Database
    storage: ObjectStorage
    bus: EventBus
    engines: EngineRegistry
    webhooks: WebhookSender
    jobs: JobService
    uploads: UploadService
    keys: ApiKeyService
    links: AudioLinks
    executor: Executor | None  # the gateway's; the others record what runs elsewhere

    async def start(self) -> None:
        """Start what runs in the background: the gateway's bus subscription and executor."""
        if self.executor is None:
            return
        self.webhooks.check_configuration()
        await self.bus.start()
        await self.executor.start(
            self.jobs, functools.partial(run_job, jobs=self.jobs, engines=self.engines)
        )

    async def close(self) -> None:
        drain = ROLES[self.role].webhook_drain_seconds
        closers: list[Callable[[], Awaitable[None]]] = [
            functools.partial(self.webhooks.close, timeout=drain),
            self.bus.close,
            self.storage.close,
            self.db.close,
        ]
        if self.executor is not None:
            closers.insert(0, self.executor.close)
        for closer in closers:
            with contextlib.suppress(Exception):
                await closer()


def open_services(settings: Settings, role: Role) -> Services:
    """The services of one process in ``role``; ``start`` them, and ``close`` them at the end."""
    needs = ROLES[role]
    db = Database(
        settings.resolved_database_url,
        pool_size=needs.pool_size or settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout,
    )
    storage = open_storage(settings)
    bus = open_bus(settings)
    repo = JobRepository(db)
    webhooks = WebhookSender(settings, repo)
    executor = open_executor(settings) if needs.serves_clients else None
    jobs = JobService(
        settings, repo, storage, bus, executor=executor, final_hooks=(webhooks.on_final,)
    )
    return Services(
        role=role,
        settings=settings,
        db=db,
        storage=storage,
        bus=bus,
        engines=EngineRegistry(settings),
        webhooks=webhooks,
        jobs=jobs,
        uploads=UploadService(settings, storage),
        keys=ApiKeyService(db),
        # The configured secret, else the one local storage keeps in its folder (links then
        # outlive a restart).
        links=AudioLinks.of(
            settings.secret_key.get_secret_value().encode() or getattr(storage, "secret", None)
        ),
        executor=executor,
    )
