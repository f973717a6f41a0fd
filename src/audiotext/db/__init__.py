"""Persistence: SQLAlchemy models, the async engine, the job repository and migrations."""
