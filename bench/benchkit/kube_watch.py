"""Watch one namespace's Jobs and TranscriptionJobs, run as its own process.

    python bench/benchkit/kube_watch.py --kubeconfig K --namespace NS

Prints ``ready`` once both watches are open, then one line per first sighting, each stamped
with ``time.monotonic()`` (CLOCK_MONOTONIC: the same clock in every process of the machine):

    J <job name> <t>              a Job appeared
    A <job name> <t>              a Job was first seen not suspended (admitted by Kueue, or
                                  never held back)
    P <resource name> <phase> <t> a TranscriptionJob's status.phase changed

Only the type, name and phase of each event are read (no client models), so a busy watch
costs little CPU and the stamps are close to the moment each event arrived. A separate
process, so the creating process's own work does not delay them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config

GROUP, VERSION, PLURAL = "audiotext.io", "v1alpha1", "transcriptionjobs"


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def follow(
    open_watch: Callable[[str | None], Awaitable[Any]],
    on_event: Callable[[dict[str, Any]], None],
    opened: asyncio.Event,
) -> None:
    """Read watch events for ever; reopen (from the last resourceVersion) when a watch ends."""
    version: str | None = None
    while True:
        try:
            response = await open_watch(version)
        except client.ApiException as exc:
            if exc.status == 410:  # too old: start again; sightings are first-only anyway
                version = None
                continue
            raise
        opened.set()
        buffer = b""
        reopen = False
        try:
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer and not reopen:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR" or "type" not in event or not obj:
                        # An error event, or a Status for a refused watch: open it again.
                        print(f"watch ended: {line[:300]!r}", file=sys.stderr)
                        if obj.get("code") == 410 or "type" not in event:
                            version = None
                        reopen = True
                        break
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event.get("type") != "BOOKMARK":
                        on_event(event)
                if reopen:
                    break
        finally:
            response.release()
        if reopen:
            await asyncio.sleep(0.2)


async def run(args: argparse.Namespace) -> None:
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(args.kubeconfig), client_configuration=configuration
    )
    async with client.ApiClient(configuration) as api:
        batch, objects = client.BatchV1Api(api), client.CustomObjectsApi(api)
        jobs_seen: set[str] = set()
        jobs_running: set[str] = set()
        phases: dict[str, str] = {}

        def on_job(event: dict[str, Any]) -> None:
            now = time.monotonic()
            name = event["object"]["metadata"]["name"]
            if event["type"] == "DELETED":
                return
            if name not in jobs_seen:
                jobs_seen.add(name)
                emit(f"J {name} {now:.6f}")
            suspended = (event["object"].get("spec") or {}).get("suspend")
            if not suspended and name not in jobs_running:
                jobs_running.add(name)
                emit(f"A {name} {now:.6f}")

        def on_resource(event: dict[str, Any]) -> None:
            now = time.monotonic()
            obj = event["object"]
            name = obj["metadata"]["name"]
            phase = (obj.get("status") or {}).get("phase") or ""
            if event["type"] != "DELETED" and phase and phases.get(name) != phase:
                phases[name] = phase
                emit(f"P {name} {phase} {now:.6f}")

        def job_watch(version: str | None) -> Awaitable[Any]:
            return batch.list_namespaced_job(
                args.namespace,
                watch=True,
                allow_watch_bookmarks=True,
                resource_version=version,
                timeout_seconds=3600,
                _preload_content=False,
            )

        def resource_watch(version: str | None) -> Awaitable[Any]:
            return objects.list_namespaced_custom_object(
                GROUP,
                VERSION,
                args.namespace,
                PLURAL,
                watch=True,
                allow_watch_bookmarks=True,
                resource_version=version,
                timeout_seconds=3600,
                _preload_content=False,
            )

        opened = [asyncio.Event(), asyncio.Event()]
        tasks = [
            asyncio.create_task(follow(job_watch, on_job, opened[0])),
            asyncio.create_task(follow(resource_watch, on_resource, opened[1])),
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened)), 30)
        emit("ready")
        # Runs until the parent closes stdin or kills it; a failed watch ends the process.
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--namespace", required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        try:
            import uvloop

            uvloop.run(run(args))
        except ImportError:
            asyncio.run(run(args))


if __name__ == "__main__":
    main()
