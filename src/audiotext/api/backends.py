"""Every backend of one gateway process, opened and closed together by the app's lifespan."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from audiotext.bus import EventBus, open_bus
from audiotext.config import Settings
from audiotext.db.repository import JobRepository
from audiotext.db.session import Database
from audiotext.engine import EngineRegistry
from audiotext.executor import Executor, open_executor
from audiotext.services.jobs import JobService
from audiotext.services.keys import ApiKeyService
from audiotext.services.uploads import UploadService
from audiotext.services.webhooks import WebhookSender
from audiotext.storage import ObjectStorage, open_storage


@dataclass
class Backends:
    settings: Settings
    db: Database
    storage: ObjectStorage
    bus: EventBus
    engines: EngineRegistry
    jobs: JobService
    uploads: UploadService
    executor: Executor
    webhooks: WebhookSender
    keys: ApiKeyService

    @classmethod
    def open(cls, settings: Settings) -> Backends:
        db = Database(
            settings.resolved_database_url,
            pool_size=settings.database_pool_size,
            pool_timeout=settings.database_pool_timeout,
        )
        storage = open_storage(settings)
        bus = open_bus(settings)
        engines = EngineRegistry(settings)
        jobs = JobService(settings, JobRepository(db), storage, bus)
        executor = open_executor(jobs, engines)
        jobs.executor = executor
        webhooks = WebhookSender(settings, jobs.repo)
        jobs.final_hooks.append(webhooks.on_final)
        return cls(
            settings=settings,
            db=db,
            storage=storage,
            bus=bus,
            engines=engines,
            jobs=jobs,
            uploads=UploadService(settings, storage),
            executor=executor,
            webhooks=webhooks,
            keys=ApiKeyService(db),
        )

    async def start(self) -> None:
        self.webhooks.check_configuration()
        await self.bus.start()
        await self.executor.start()

    async def close(self) -> None:
        closers = (
            self.executor.close,
            self.webhooks.close,
            self.bus.close,
            self.storage.close,
            self.db.close,
        )
        for closer in closers:
            with contextlib.suppress(Exception):
                await closer()
