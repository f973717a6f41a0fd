"""What the operator's handlers share: settings, the job service, the Kubernetes API."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client

from audiotext.bus import EventBus, open_bus
from audiotext.config import Settings
from audiotext.db.repository import JobRepository
from audiotext.db.session import Database
from audiotext.kube import constants as k
from audiotext.kube.client import api_client
from audiotext.services.jobs import JobService
from audiotext.storage import open_storage


@dataclass
class OperatorContext:
    settings: Settings
    db: Database
    bus: EventBus
    jobs: JobService
    api: client.ApiClient

    @classmethod
    async def open(cls, settings: Settings) -> OperatorContext:
        db = Database(settings.resolved_database_url, pool_size=5)
        bus = open_bus(settings)
        jobs = JobService(settings, JobRepository(db), open_storage(settings), bus)
        api = await api_client(settings.kubeconfig)
        return cls(settings=settings, db=db, bus=bus, jobs=jobs, api=api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def objects(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    async def patch_status(self, namespace: str, name: str, changes: dict[str, Any]) -> None:
        """Merge ``changes`` into a TranscriptionJob's status subresource."""
        await self.objects.patch_namespaced_custom_object_status(  # type: ignore[call-arg]
            k.GROUP,
            k.VERSION,
            namespace,
            k.PLURAL,
            name,
            {"status": changes},
            _content_type=k.MERGE_PATCH,
        )

    async def warn(self, resource: dict[str, Any], reason: str, message: str) -> None:
        """A Warning event on a resource, from outside a kopf handler (whose kopf.warn
        needs the handler's context)."""
        meta = resource["metadata"]
        now = datetime.now(UTC).isoformat()
        await self.core.create_namespaced_event(  # a plain dict body is sent as it is
            meta["namespace"],
            {  # type: ignore[arg-type]
                "metadata": {"generateName": f"{meta['name']}."},
                "involvedObject": {
                    "apiVersion": resource["apiVersion"],
                    "kind": resource["kind"],
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                },
                "type": "Warning",
                "reason": reason,
                "message": message,
                "source": {"component": "audiotext-operator"},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )

    async def close(self) -> None:
        for closer in (self.api.close, self.bus.close, self.db.close):
            with contextlib.suppress(Exception):
                await closer()
