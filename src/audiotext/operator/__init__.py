"""The operator: TranscriptionJob resources become batch/v1 Jobs that run the worker."""
