"""Fixtures of the production-backend tests (PostgreSQL + Redis + MinIO)."""

from processes import gateways, production

__all__ = ["gateways", "production"]
