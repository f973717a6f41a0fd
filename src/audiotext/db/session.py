"""The async database engine and its sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from audiotext.jobs.errors import BackendUnavailable

READER_BUSY_TIMEOUT_MS = 50


class Database:
    """Owns the engine; hands out sessions; turns connection trouble into ``BackendUnavailable``."""

    def __init__(self, url: str, *, pool_size: int = 10, pool_timeout: float = 5.0) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        # Reads of one row from a SQLite file run inline on a plain (sync) engine: a WAL reader
        # never waits for writers, and the read costs tens of microseconds, less than the
        # thread hops aiosqlite makes for every DB-API call (which also stretch the tail
        # latency when the event loop holds the GIL).
        self._reader: Engine | None = None
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._reader = sa.create_engine(sa.make_url(url).set(drivername="sqlite"))
                event.listen(self._reader, "connect", _sqlite_reader_pragmas)
            # A file needs no liveness check: pre-ping would add a round trip to every checkout.
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_timeout=pool_timeout,
                connect_args={"connect_timeout": max(1, int(pool_timeout))},
            )
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        with _unavailable_on_connection_trouble():
            async with self.sessionmaker() as session:
                yield session

    async def fetch_one(self, statement: sa.Select[Any]) -> RowMapping | None:
        """The first row of a read-only query as a mapping, without an ORM session.

        The hot path of status reads: no identity map, no transaction bookkeeping.
        """
        if self._reader is not None:
            try:
                with self._reader.connect() as connection:
                    return connection.execute(statement).mappings().first()
            except OperationalError:
                pass  # locked for longer than the reader waits: the pooled path waits longer
        async with _async_unavailable_on_connection_trouble(), self.engine.connect() as connection:
            first: RowMapping | None = (await connection.execute(statement)).mappings().first()
            return first

    async def ping(self) -> None:
        async with asyncio.timeout(5), self.session() as session:
            await session.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()


@contextmanager
def _unavailable_on_connection_trouble() -> Iterator[None]:
    """Connection trouble becomes ``BackendUnavailable`` (503); other errors pass unchanged."""
    try:
        yield
    except (OperationalError, PoolTimeout, ConnectionError, OSError) as exc:
        raise BackendUnavailable(f"database unavailable: {_short(exc)}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise BackendUnavailable(f"database unavailable: {_short(exc)}") from exc
        raise


@asynccontextmanager
async def _async_unavailable_on_connection_trouble() -> AsyncIterator[None]:
    with _unavailable_on_connection_trouble():
        yield


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (status polls) proceed while a job's progress is being written.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The inline reader runs on the event loop: it must never wait long for a lock.
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={READER_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA query_only=1")
    cursor.close()


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
