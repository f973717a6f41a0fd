"""One way to reach the Kubernetes API (kubernetes_asyncio): kubeconfig file or in-cluster."""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes_asyncio import client, config


async def api_client(kubeconfig: Path | None) -> client.ApiClient:
    """An API client from ``kubeconfig``, $KUBECONFIG, or the pod's service account."""
    configuration = client.Configuration()
    path = kubeconfig or (Path(os.environ["KUBECONFIG"]) if os.environ.get("KUBECONFIG") else None)
    if path is not None:
        await config.load_kube_config(config_file=str(path), client_configuration=configuration)
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        default = Path.home() / ".kube" / "config"
        if not default.is_file():
            raise FileNotFoundError(
                "no cluster credentials: set AUDIOTEXT_KUBECONFIG or KUBECONFIG, "
                "or run inside a cluster"
            )
        await config.load_kube_config(config_file=str(default), client_configuration=configuration)
    return client.ApiClient(configuration)
