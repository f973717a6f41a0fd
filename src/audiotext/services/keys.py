"""API keys: created once (the secret is shown only then), stored hashed, revocable."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from audiotext.db.models import ApiKeyRow, utcnow
from audiotext.db.session import Database
from audiotext.jobs.errors import AudioTextError, InvalidParameter

KEY_PREFIX = "at"
# A verified key is trusted this long before the database is asked again (revocation delay).
CACHE_SECONDS = 5.0
# A Kubernetes object name (DNS-1123 label), as a LocalQueue's is.
QUEUE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


class Unauthorized(AudioTextError):
    status_code = 401
    code = "invalid_api_key"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    queue: str | None = None  # the tenant's Kueue LocalQueue


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(key: str) -> tuple[str, str]:
    """``at_<prefix>_<secret>`` → (prefix, whole key)."""
    parts = key.split("_")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        raise Unauthorized("malformed API key")
    return parts[1], key


class ApiKeyService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._verified: dict[str, tuple[ApiKey, float]] = {}

    async def create(self, name: str, *, queue: str | None = None) -> tuple[ApiKey, str]:
        """A new key; the returned secret is never stored and cannot be shown again."""
        name = name.strip()
        if not name or len(name) > 255:
            raise InvalidParameter("a key needs a name of 1 to 255 characters")
        if queue is not None and not QUEUE_NAME.fullmatch(queue):
            raise InvalidParameter(
                "a queue is the name of a Kueue LocalQueue: 1 to 63 lowercase letters, digits "
                "and dashes, starting and ending with a letter or digit"
            )
        prefix = secrets.token_hex(4)
        key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
        row = ApiKeyRow(name=name, prefix=prefix, secret_hash=_hash(key), queue=queue)
        async with self.db.session() as session:
            session.add(row)
            await session.commit()
        return ApiKey(row.id, row.name, row.prefix, row.queue), key

    async def list(self) -> Sequence[ApiKeyRow]:
        async with self.db.session() as session:
            return (
                await session.scalars(sa.select(ApiKeyRow).order_by(ApiKeyRow.created_at))
            ).all()

    async def revoke(self, id_or_name: str) -> ApiKeyRow:
        query = sa.select(ApiKeyRow).where(
            sa.or_(
                ApiKeyRow.id == id_or_name,
                ApiKeyRow.name == id_or_name,
                ApiKeyRow.prefix == id_or_name,
            ),
            ApiKeyRow.revoked_at.is_(None),
        )
        async with self.db.session() as session:
            rows = (await session.scalars(query)).all()
            if len(rows) != 1:
                raise InvalidParameter(
                    f"{len(rows)} active keys match {id_or_name!r}; give the key's id"
                )
            rows[0].revoked_at = utcnow()
            await session.commit()
        self._verified.clear()
        return rows[0]

    async def authenticate(self, key: str | None) -> ApiKey:
        if not key:
            raise Unauthorized("missing API key: send Authorization: Bearer <key>")
        cached = self._verified.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        prefix, whole = parse_key(key)
        async with self.db.session() as session:
            row = (
                await session.scalars(sa.select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
            ).first()
        if row is None or not hmac.compare_digest(row.secret_hash, _hash(whole)):
            raise Unauthorized("invalid API key")
        if row.revoked_at is not None:
            raise Unauthorized("this API key has been revoked")
        api_key = ApiKey(row.id, row.name, row.prefix, row.queue)
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[key] = (api_key, time.monotonic() + CACHE_SECONDS)
        return api_key
