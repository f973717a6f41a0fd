"""How one run of a job ended: what its runner (the local executor, the worker) does next."""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    COMPLETED = "completed"
    BAD_INPUT = "bad_input"  # retrying cannot help
    FAILED = "failed"
    TRANSIENT = "transient"  # a backend was away; another attempt may succeed
    SKIPPED = "skipped"  # not pending any more (cancelled, or another runner has it)
