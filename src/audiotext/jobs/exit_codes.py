"""Exit codes of ``audiotext worker``: how a Job pod tells the operator whether to retry."""

COMPLETED = 0
FAILED = 1  # the engine failed; a retry may help
BAD_INPUT = 2  # the audio or the request is wrong: never retried (podFailurePolicy)
TRANSIENT = 75  # a backend was unreachable (EX_TEMPFAIL): retried
