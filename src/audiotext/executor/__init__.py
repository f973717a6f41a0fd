"""Executors, chosen by ``AUDIOTEXT_EXECUTOR``: local (in-process) or kubernetes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audiotext.executor.base import Executor

if TYPE_CHECKING:
    from audiotext.engine import EngineRegistry
    from audiotext.services.jobs import JobService

__all__ = ["Executor", "open_executor"]


def open_executor(jobs: JobService, engines: EngineRegistry) -> Executor:
    if jobs.settings.executor == "kubernetes":
        from audiotext.executor.kubernetes import KubernetesExecutor

        return KubernetesExecutor(jobs.settings)
    from audiotext.executor.local import LocalExecutor

    return LocalExecutor(jobs, engines)
