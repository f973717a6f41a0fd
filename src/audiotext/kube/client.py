"""One way to reach the Kubernetes API (kubernetes_asyncio): kubeconfig file or in-cluster."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException

PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


async def api_client(kubeconfig: Path | None) -> client.ApiClient:
    """An API client from ``kubeconfig``, $KUBECONFIG, or the pod's service account.

    Raises ``FileNotFoundError`` when there are no credentials and ``ValueError`` when they
    cannot be read, so callers catch two ordinary errors rather than the client's own.
    """
    configuration = client.Configuration()
    path = kubeconfig or (Path(os.environ["KUBECONFIG"]) if os.environ.get("KUBECONFIG") else None)
    try:
        if path is not None:
            await _load_file(path, configuration)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            default = Path.home() / ".kube" / "config"
            if not default.is_file():
                raise FileNotFoundError(
                    "no cluster credentials: set AUDIOTEXT_KUBECONFIG or KUBECONFIG, "
                    "or run inside a cluster"
                )
            await _load_file(default, configuration)
    except (ConfigException, yaml.YAMLError) as exc:
        raise ValueError(f"unusable cluster credentials: {exc}") from exc
    api = client.ApiClient(configuration)
    if not any(os.environ.get(name) for name in PROXY_VARIABLES):
        # The client's session trusts the environment, so aiohttp looks up ~/.netrc in a
        # worker thread for every request (6 % of the operator's CPU under load): useless,
        # the credentials come from the kubeconfig. Proxy variables still apply when set.
        api.rest_client.pool_manager._trust_env = False
    return api


async def _load_file(path: Path, configuration: client.Configuration) -> None:
    await config.load_kube_config(config_file=_existing(path), client_configuration=configuration)


def _existing(path: Path) -> str:
    """The client would only log a missing file and go on without credentials."""
    if not path.is_file():
        raise FileNotFoundError(f"kubeconfig {path} is not a readable file")
    return str(path)
