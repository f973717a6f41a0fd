"""Kueue's CRDs or webhook configurations, as the test cluster installs them (stdout, YAML).

Kueue's own manifests expect it in a pod behind a Service with cert-manager's help; here it
is a process on this machine. So its webhooks call it at 127.0.0.1 with the cluster CA's
certificate, only for the integrations it runs (batch/v1 Jobs) and its own objects, and only
for Jobs that name a queue: a Job without one never waits on Kueue. The CRDs keep a single
stored version and no conversion webhook.

    python3 kueue_objects.py crds MANIFESTS_DIR
    python3 kueue_objects.py webhooks MANIFESTS_DIR CA_FILE PORT
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import yaml

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# The paths of the webhooks kept: Kueue's own objects and batch/v1 Jobs.
KEPT_PATHS = ("-kueue-x-k8s-io-", "-batch-v1-job")


def crds(manifests: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(manifests.glob("kueue.x-k8s.io_*.yaml")):
        crd = yaml.safe_load(path.read_text())
        crd["spec"].pop("conversion", None)
        found.append(crd)
    return found


def webhooks(manifests: Path, ca: bytes, port: int) -> list[dict[str, Any]]:
    configurations = []
    for config in yaml.safe_load_all((manifests / "webhooks.yaml").read_text()):
        if not config:
            continue
        kept = []
        for hook in config.get("webhooks") or []:
            path = hook["clientConfig"]["service"]["path"]
            if not any(part in path for part in KEPT_PATHS):
                continue
            hook["clientConfig"] = {
                "url": f"https://127.0.0.1:{port}{path}",
                "caBundle": base64.b64encode(ca).decode(),
            }
            if "-batch-v1-job" in path:
                hook["objectSelector"] = {
                    "matchExpressions": [{"key": QUEUE_LABEL, "operator": "Exists"}]
                }
            kept.append(hook)
        config["metadata"] = {"name": f"kueue-{config['metadata']['name']}"}
        config["webhooks"] = kept
        configurations.append(config)
    return configurations


def main(argv: list[str]) -> None:
    kind, manifests = argv[0], Path(argv[1])
    if kind == "crds":
        objects = crds(manifests)
    else:
        objects = webhooks(manifests, Path(argv[2]).read_bytes(), int(argv[3]))
    yaml.safe_dump_all(objects, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main(sys.argv[1:])
