"""``audiotext operator``: check the cluster can be reached, then run the kopf operator."""

from __future__ import annotations

import asyncio
import logging
import sys

import kopf
from aiohttp import ClientError
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from audiotext.config import Settings
from audiotext.kube import constants as k
from audiotext.kube.client import api_client


async def preflight(settings: Settings) -> str | None:
    """Why the operator cannot start, or None when the cluster and the CRD are there."""
    try:
        api = await api_client(settings.kubeconfig)
    except (OSError, ValueError) as exc:
        return f"cannot reach a cluster: {exc}"
    try:
        objects = client.CustomObjectsApi(api)
        await asyncio.wait_for(
            objects.list_cluster_custom_object(k.GROUP, k.VERSION, k.PLURAL, limit=1)
            if not settings.operator_namespaces
            else objects.list_namespaced_custom_object(
                k.GROUP, k.VERSION, settings.operator_namespaces[0], k.PLURAL, limit=1
            ),
            timeout=10,
        )
    except ApiException as exc:
        if exc.status == 404:
            return (
                "the TranscriptionJob CRD is not installed: "
                "kubectl apply -f crds/transcriptionjobs.audiotext.io.yaml"
            )
        return f"the cluster refused: {exc.status} {exc.reason}"
    except (ClientError, OSError, TimeoutError) as exc:
        return f"cannot reach the cluster's API server: {exc or type(exc).__name__}"
    finally:
        await api.close()
    return None


def run_operator(settings: Settings) -> int:
    problem = asyncio.run(preflight(settings))
    if problem is not None:
        print(f"audiotext operator: {problem}", file=sys.stderr)
        return 1
    import audiotext.operator.handlers  # noqa: F401  (registers the handlers)

    # Every handler run is logged at INFO by kopf; the progress timer would flood the log.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)

    liveness = (
        f"http://0.0.0.0:{settings.operator_health_port}/healthz"
        if settings.operator_health_port
        else None
    )
    asyncio.run(
        kopf.operator(
            clusterwide=not settings.operator_namespaces,
            namespaces=settings.operator_namespaces,
            standalone=True,
            liveness_endpoint=liveness,
            memo=kopf.Memo(settings=settings),
        )
    )
    return 0
