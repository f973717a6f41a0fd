"""The gateway's executor for clusters: each job becomes a TranscriptionJob resource.

The gateway never builds a Job: the operator turns the resource into one.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import ClientError
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from audiotext.config import Settings
from audiotext.executor.base import JobControl, RunJob
from audiotext.jobs.errors import BackendUnavailable
from audiotext.jobs.schemas import JobPublic
from audiotext.kube import constants as k
from audiotext.kube.client import api_client
from audiotext.kube.resources import build_transcription_job

log = logging.getLogger(__name__)


class KubernetesExecutor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._api: client.ApiClient | None = None

    async def _objects(self) -> client.CustomObjectsApi:
        if self._api is None:
            try:
                self._api = await api_client(self.settings.kubeconfig)
            except (OSError, ValueError) as exc:
                raise BackendUnavailable(f"cluster unavailable: {exc}") from exc
        return client.CustomObjectsApi(self._api)

    async def start(self, jobs: JobControl | None = None, run: RunJob | None = None) -> None:
        """The operator runs the jobs: this executor only writes their resources."""
        try:
            await self._objects()
        except BackendUnavailable as exc:
            log.warning("%s; jobs will fail until the cluster is reachable", exc.message)

    async def submit(self, job: JobPublic) -> None:
        body = build_transcription_job(job, self.settings)
        objects = await self._objects()
        try:
            await asyncio.wait_for(
                objects.create_namespaced_custom_object(
                    k.GROUP, k.VERSION, self.settings.namespace, k.PLURAL, body
                ),
                timeout=15,
            )
        except ApiException as exc:
            if exc.status == 409:
                return  # created by an earlier attempt of this very call
            raise BackendUnavailable(
                f"TranscriptionJob not created: {exc.status} {exc.reason}"
            ) from exc
        except (ClientError, OSError, TimeoutError) as exc:
            raise BackendUnavailable(f"cluster unavailable: {exc}") from exc

    async def cancel(self, job_id: str) -> None:
        """Mark the resource; the operator deletes its Job (and pods) and records it."""
        objects = await self._objects()
        patch = {"metadata": {"annotations": {k.ANNOTATION_CANCEL: "true"}}}
        try:
            await objects.patch_namespaced_custom_object(  # type: ignore[call-arg]
                k.GROUP,
                k.VERSION,
                self.settings.namespace,
                k.PLURAL,
                job_id,
                patch,
                _content_type=k.MERGE_PATCH,
            )
        except ApiException as exc:
            if exc.status != 404:
                raise BackendUnavailable(f"cancel not recorded: {exc.status} {exc.reason}") from exc
        except (ClientError, OSError) as exc:
            raise BackendUnavailable(f"cluster unavailable: {exc}") from exc

    async def ping(self) -> None:
        objects = await self._objects()
        try:
            await asyncio.wait_for(
                objects.list_namespaced_custom_object(
                    k.GROUP, k.VERSION, self.settings.namespace, k.PLURAL, limit=1
                ),
                timeout=5,
            )
        except (ApiException, ClientError, OSError, TimeoutError) as exc:
            raise BackendUnavailable(f"cluster unavailable: {exc}") from exc

    async def close(self) -> None:
        if self._api is not None:
            await self._api.close()
            self._api = None
