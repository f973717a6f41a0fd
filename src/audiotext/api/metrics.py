"""Job metrics read from the database, where every process's outcome ends up."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from audiotext.jobs.errors import AudioTextError
from audiotext.jobs.states import FINAL_STATES
from audiotext.services.jobs import JobService


class FinishedJobsCollector:
    """``audiotext_jobs_finished_total{status}``: the jobs that reached each final state.

    Counted in the database at each scrape rather than in this process: in Kubernetes mode
    worker pods and the operator finish most jobs, and no gateway sees that happen. Every
    replica reports the same numbers (aggregate them with ``max``, not ``sum``).
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = {status.value: 0 for status in FINAL_STATES}

    async def refresh(self, jobs: JobService) -> None:
        try:
            counts = await jobs.finished_counts()
        except AudioTextError:
            return  # the database is away (so says /readyz): the last numbers stand
        self.counts = {status.value: count for status, count in counts.items()}

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "audiotext_jobs_finished", "Jobs that reached a final state", labels=["status"]
        )
        for status, count in sorted(self.counts.items()):
            family.add_metric([status], count)
        yield family
