"""Executors, chosen by ``AUDIOTEXT_EXECUTOR``: local (in-process) or kubernetes."""

from __future__ import annotations

from audiotext.config import Settings
from audiotext.executor.base import Executor, JobControl, RunJob

__all__ = ["Executor", "JobControl", "RunJob", "open_executor"]


def open_executor(settings: Settings) -> Executor:
    if settings.executor == "kubernetes":
        from audiotext.executor.kubernetes import KubernetesExecutor

        return KubernetesExecutor(settings)
    from audiotext.executor.local import LocalExecutor

    return LocalExecutor(settings)
