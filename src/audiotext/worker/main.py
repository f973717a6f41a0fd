"""``audiotext worker JOB_ID``: run one job given only its id and the environment."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from audiotext.config import Settings
from audiotext.jobs import exit_codes
from audiotext.jobs.errors import AudioTextError, BackendUnavailable
from audiotext.jobs.outcomes import Outcome
from audiotext.kube import constants as k
from audiotext.pipeline import run_job
from audiotext.wiring import open_services
from audiotext.worker.shard import run_shard

log = logging.getLogger(__name__)
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"  # what Kubernetes tells each pod of an Indexed Job

_EXIT_CODES = {
    Outcome.COMPLETED: exit_codes.COMPLETED,
    Outcome.SKIPPED: exit_codes.COMPLETED,
    Outcome.BAD_INPUT: exit_codes.BAD_INPUT,
    Outcome.FAILED: exit_codes.FAILED,
    Outcome.TRANSIENT: exit_codes.TRANSIENT,
}


def report(message: str, termination_log: Path) -> None:
    """Say why we stop: on stderr, and where Kubernetes shows it in the pod's status."""
    print(f"audiotext worker: {message}", file=sys.stderr)
    try:
        termination_log.write_text(message[:4000])
    except OSError:
        pass  # not in a pod, or not writable: stderr is enough


def shard_of_pod() -> tuple[int, int] | None:
    """(index, count) in a pod of a sharded job's Indexed Job, which sets both; else None."""
    index = os.environ.get(COMPLETION_INDEX_ENV)
    count = int(os.environ.get(k.SHARDS_ENV) or 1)
    return (int(index), count) if index is not None and count > 1 else None


async def work(job_id: str, settings: Settings) -> tuple[int, str]:
    services = open_services(settings, "worker")
    jobs = services.jobs
    try:
        row = await jobs.find(job_id)
        if row is None:
            return exit_codes.BAD_INPUT, f"job {job_id} does not exist"
        if row.status.is_final:
            return exit_codes.COMPLETED, f"job {job_id} is already {row.status.value}"
        shard = shard_of_pod()
        if shard is None:
            claimed = await jobs.start(job_id, resume=True)
            if claimed is None:
                return exit_codes.COMPLETED, f"job {job_id} is no longer runnable"
            job_run = run_job(job_id, jobs, services.engines, claimed=True)
        else:
            job_run = run_shard(job_id, jobs, services.engines, *shard)
        run = asyncio.create_task(job_run)
        # Kubernetes stops a pod with SIGTERM: hand the job back instead of leaving it running
        # (a shard's pod just stops: its index runs again, and the other shards go on).
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, run.cancel)
        try:
            outcome = await run
        except asyncio.CancelledError:
            if shard is None:
                await jobs.requeue(job_id, "the worker was stopped; the job was handed back")
            return exit_codes.TRANSIENT, f"job {job_id} handed back after SIGTERM"
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
        final = await jobs.row(job_id)
        message = final.error_message or f"job {job_id} {outcome.value}"
        if outcome is Outcome.TRANSIENT:
            message = f"job {job_id}: a backend was unavailable; retry"
        return _EXIT_CODES[outcome], message
    except BackendUnavailable as exc:
        return exit_codes.TRANSIENT, exc.message
    except AudioTextError as exc:
        return exit_codes.FAILED, exc.message
    finally:
        await services.close()


def run_worker(job_id: str, settings: Settings) -> int:
    code, message = asyncio.run(work(job_id, settings))
    if code == exit_codes.COMPLETED:
        log.info("%s", message)
    else:
        report(message, settings.termination_log)
    return code
