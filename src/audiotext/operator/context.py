"""What the operator's handlers share: settings, the job service, the Kubernetes API."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from audiotext.config import Settings
from audiotext.kube.client import api_client
from audiotext.operator.cluster import OperatorCluster
from audiotext.services.jobs import JobService
from audiotext.wiring import Services, open_services


@dataclass
class OperatorContext:
    settings: Settings
    services: Services
    cluster: OperatorCluster

    @classmethod
    async def open(cls, settings: Settings) -> OperatorContext:
        services = open_services(settings, "operator")
        cluster = OperatorCluster(await api_client(settings.kubeconfig))
        return cls(settings=settings, services=services, cluster=cluster)

    @property
    def jobs(self) -> JobService:
        return self.services.jobs

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.cluster.close()
        await self.services.close()
