"""The async database engine and its sessions."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
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
        self._reader: InlineReader | ServerReader | None = None
        self._compiled: dict[sa.Select[Any], CompiledRead] = {}
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._reader = InlineReader(path)
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
        elif self.engine.dialect.driver == "psycopg":  # the statements are compiled for it
            self._reader = ServerReader(url, max_size=pool_size, timeout=pool_timeout)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        with _unavailable_on_connection_trouble():
            async with self.sessionmaker() as session:
                yield session

    async def fetch_one(
        self, statement: sa.Select[Any], params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The first row of a read-only query (built once, with bind parameters) as a dict,
        without an ORM session: the hot path of status reads."""
        if isinstance(self._reader, ServerReader):
            return await self._reader.fetch_one(self._compile(statement), params)
        if self._reader is not None:
            try:
                return self._reader.fetch_one(self._compile(statement), params)
            except sqlite3.OperationalError:
                pass  # locked for longer than the reader waits: the pooled path waits longer
        with _unavailable_on_connection_trouble():
            async with self.engine.connect() as connection:
                first = (await connection.execute(statement, params)).mappings().first()
                return dict(first) if first is not None else None

    def _compile(self, statement: sa.Select[Any]) -> CompiledRead:
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = self._compiled[statement] = CompiledRead(statement, self.engine.dialect)
        return compiled

    async def ping(self) -> None:
        async with asyncio.timeout(5), self.session() as session:
            await session.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
        if isinstance(self._reader, ServerReader):
            await self._reader.close()
        elif self._reader is not None:
            self._reader.close()


class InlineReader:
    """Reads of one row from a SQLite file, run inline on the event loop.

    A WAL reader never waits for writers and such a read costs microseconds, less than the
    thread hops aiosqlite makes for every DB-API call (which also stretch the tail latency
    while the event loop holds the GIL) and less than SQLAlchemy's per-execution work
    (cache keys, execution context), so each statement is compiled once and runs on the
    driver's own connection; SQLAlchemy's result processors still turn the values into the
    column types (enums, aware datetimes, JSON).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None  # opened by the first read
        self._lock = threading.Lock()

    def fetch_one(self, compiled: CompiledRead, params: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            if self._connection is None:
                self._connection = self._connect()
            cursor = self._connection.execute(
                compiled.sql, [params[name] for name in compiled.bind_names]
            )
            row = cursor.fetchone()
        return compiled.to_dict(row, cursor.description) if row is not None else None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        # On the event loop it must never wait long for a lock, and it never writes.
        connection.execute(f"PRAGMA busy_timeout={READER_BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA query_only=1")
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


class ServerReader:
    """Reads of one row from PostgreSQL on psycopg's own pool of autocommit connections.

    One round trip per read (a prepared statement; no pre-ping, no BEGIN, no ROLLBACK on
    return) and a third of the client CPU of the same read through SQLAlchemy's async
    engine, whose checkout and execution cost more than the query. Connections that died in
    the pool (a database restart) are found by the first read that fails: the pool checks
    the idle ones and that read is tried once more.
    """

    def __init__(self, url: str, *, max_size: int, timeout: float) -> None:
        import psycopg
        from psycopg_pool import AsyncConnectionPool, PoolTimeout

        # What a read that could not reach the database raises (imported here, once: psycopg
        # is loaded only where PostgreSQL is used).
        self._broken: type[Exception] = psycopg.OperationalError
        self._unavailable: tuple[type[Exception], ...] = (psycopg.OperationalError, PoolTimeout)

        conninfo = sa.make_url(url).set(drivername="postgresql")
        self._pool = AsyncConnectionPool(
            conninfo.render_as_string(hide_password=False),
            min_size=1,
            max_size=max_size,
            timeout=timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout))},
            open=False,
        )
        self._opened = False

    async def fetch_one(
        self, compiled: CompiledRead, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        try:
            if not self._opened:
                self._opened = True
                await self._pool.open(wait=False)
            try:
                return await self._read(compiled, params)
            except self._broken:
                await self._pool.check()
                return await self._read(compiled, params)
        except self._unavailable as exc:
            raise BackendUnavailable(f"database unavailable: {_short(exc)}") from exc

    async def _read(self, compiled: CompiledRead, params: dict[str, Any]) -> dict[str, Any] | None:
        async with self._pool.connection() as connection:
            cursor = await connection.execute(compiled.sql, params, prepare=True)
            row = await cursor.fetchone()
            return compiled.to_dict(row, cursor.description) if row is not None else None

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()


class CompiledRead:
    """A statement compiled once for a dialect, and its columns' result processors (known
    from the first result's description: some drivers' processors depend on the type the
    server reports)."""

    def __init__(self, statement: sa.Select[Any], dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.bind_names: list[str] = list(compiled.positiontup or ())
        self.keys = [str(column.key) for column in statement.selected_columns]
        self._types = [column.type.dialect_impl(dialect) for column in statement.selected_columns]
        self._dialect = dialect
        self._processors: list[Callable[[Any], Any] | None] | None = None

    def to_dict(self, row: Sequence[Any], description: Sequence[Any] | None) -> dict[str, Any]:
        processors = self._processors
        if processors is None:
            processors = self._processors = [
                kind.result_processor(self._dialect, column[1])
                for kind, column in zip(self._types, description or (), strict=True)
            ]
        return {
            key: process(value) if process is not None and value is not None else value
            for key, process, value in zip(self.keys, processors, row, strict=True)
        }


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (status polls) proceed while a job's progress is being written.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
