"""Real PostgreSQL, Redis and MinIO (S3) servers for the tests, as pytest fixtures.

Each server is a private instance that this module starts itself: on a free port, in a temporary
directory, and torn down at the end of the session. There are no mocks here. PostgreSQL and Redis
come from Debian packages (installed with apt-get when missing); MinIO is built from its Go module
by ``hack/minio/build.sh`` and cached.

Fixtures (session-scoped unless noted):

``postgres_server``
    :class:`PostgresServer` — ``.url`` (SQLAlchemy, ``postgresql+psycopg://``), ``.dsn`` (libpq),
    ``.host``, ``.port``, ``stop()``, ``start()``, ``create_database()``, ``drop_database()``.
``postgres_database`` (function-scoped)
    The SQLAlchemy URL of a new, empty database, dropped after the test.
``redis_server``
    :class:`RedisServer` — ``.url``, ``.host``, ``.port``, ``stop()``, ``start()``.
``minio_server``
    :class:`MinioServer` — ``.endpoint_url``, ``.access_key``, ``.secret_key``, ``.region``,
    ``.env()``, ``stop()``, ``start()``.

``stop()`` and ``start()`` restart a server on the same port with the same data, for fault tests.

A server that cannot start fails the test with the exact error; it is never skipped (in CI, where
``CI=true``, a skipped backend would hide a broken pipeline).

``AUDIOTEXT_TEST_LISTEN_HOST`` adds listen addresses (comma-separated) besides 127.0.0.1, so pods
of a test Kubernetes cluster can reach the servers; ``url_for_host()`` builds their URLs. A
wildcard (``0.0.0.0``) listens on every interface.

The helpers every test shares for processes and ports live here too: ``free_port()``, the
``audiotext`` command (``AUDIOTEXT``) and ``wait_healthy()`` for a started AudioText process.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MINIO_BUILD_SCRIPT = REPO_ROOT / "hack" / "minio" / "build.sh"
# The command-line entry point of the AudioText under test, in this virtual environment.
AUDIOTEXT = str(Path(sys.executable).parent / "audiotext")

LOOPBACK = "127.0.0.1"
LISTEN_HOST_ENV = "AUDIOTEXT_TEST_LISTEN_HOST"
MINIO_BINARY_ENV = "AUDIOTEXT_MINIO_BINARY"
_WILDCARDS = frozenset({"0.0.0.0", "*", "::", "[::]"})

_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0
_MINIO_BUILD_TIMEOUT_S = 1200.0


class ServerUnavailable(RuntimeError):
    """A test server could not be installed, built or started."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def listen_hosts() -> tuple[str, ...]:
    """The addresses the servers listen on: loopback plus ``$AUDIOTEXT_TEST_LISTEN_HOST``."""
    extra = [h.strip() for h in os.environ.get(LISTEN_HOST_ENV, "").split(",") if h.strip()]
    if any(h in _WILDCARDS for h in extra):
        # A wildcard already covers loopback; binding both to one port would conflict.
        return ("0.0.0.0",)
    hosts = [LOOPBACK]
    hosts.extend(h for h in extra if h not in hosts)
    return tuple(hosts)


def free_port(hosts: tuple[str, ...] = (LOOPBACK,)) -> int:
    """A TCP port that is free on every host in ``hosts``."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((hosts[0], 0))
            port: int = probe.getsockname()[1]
        if all(_port_is_free(h, port) for h in hosts[1:]):
            return port
    raise ServerUnavailable(f"no free TCP port on {', '.join(hosts)}")


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def wait_healthy(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    exited: Callable[[], str],
    failure: str,
    interval: float,
    timeout: float = 60,
) -> None:
    """Wait until the AudioText ``process`` answers 200 on ``{url}/healthz``.

    Fails with ``exited()`` as soon as the process has exited, and with ``failure`` once
    ``timeout`` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(exited())
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(interval)
    raise AssertionError(failure)


def ensure_debian_package(package: str, present: Callable[[], bool]) -> None:
    """Install ``package`` with apt-get unless ``present()`` already holds. Idempotent."""
    if present():
        return
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise ServerUnavailable(f"{package} is not installed and apt-get is not available")
    if os.geteuid() != 0:
        raise ServerUnavailable(
            f"{package} is not installed; install it with `sudo apt-get install {package}`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [apt_get, "install", "-y", "--no-install-recommends", package]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        # Package lists may be missing or stale on a fresh machine: refresh once and retry.
        subprocess.run([apt_get, "update"], env=env, capture_output=True, check=False)
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not present():
        raise ServerUnavailable(
            f"`{' '.join(command)}` failed (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-2000:]}"
        )


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A preexec hook asking Linux to signal the child when the test process dies.

    Finalizers stop the servers normally; this only covers a test run that is killed outright,
    so that no server outlives it. (It runs after the switch to another user, which would
    otherwise clear the setting.)
    """

    def hook() -> None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return hook


def _searchable_by_others(path: Path) -> bool:
    return all(
        p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents) if p != Path(p.anchor)
    )


def _log_tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:].strip()
    except OSError:
        return ""


class ManagedServer:
    """One server process in its own temporary directory; the base of the concrete servers."""

    name = "server"
    stop_signal = signal.SIGTERM
    # Immediate shutdown if the test process dies without running its finalizers.
    death_signal = signal.SIGKILL

    def __init__(self, *, hosts: tuple[str, ...] | None = None, run_as: str | None = None) -> None:
        self.hosts = hosts if hosts is not None else listen_hosts()
        self.host = LOOPBACK
        self.port = free_port(self.hosts)
        self.run_as = run_as
        self.workdir = self._make_workdir()
        self.log_path = self.workdir / f"{self.name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        atexit.register(self.close)

    def _make_workdir(self) -> Path:
        parent = Path(tempfile.gettempdir())
        if self.run_as is not None and not _searchable_by_others(parent):
            parent = Path("/tmp")
        workdir = Path(tempfile.mkdtemp(prefix=f"audiotext-{self.name}-", dir=parent))
        if self.run_as is not None:
            account = pwd.getpwnam(self.run_as)
            os.chown(workdir, account.pw_uid, account.pw_gid)
        return workdir

    # Hooks for the concrete servers.
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def is_ready(self) -> bool:
        raise NotImplementedError

    def after_first_start(self) -> None:
        """Runs once, the first time the server is ready."""

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    def start(self, timeout: float = _START_TIMEOUT_S) -> None:
        """Start the server (on its port, with its data) and wait until it serves requests."""
        if self.running:
            return
        first_start = self._process is None
        with self.log_path.open("ab") as log:
            log.write(f"--- starting: {' '.join(self.command())}\n".encode())
            log.flush()
            account = pwd.getpwnam(self.run_as) if self.run_as is not None else None
            self._process = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C at the terminal reaches pytest, whose finalizers stop
                # the server cleanly.
                start_new_session=True,
                preexec_fn=_die_with_parent(self.death_signal),
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
                extra_groups=[] if account else None,
            )
        self._wait_ready(timeout)
        if first_start:
            self.after_first_start()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "not ready"
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise ServerUnavailable(
                    f"{self.name} exited with code {code} before it was ready; "
                    f"log {self.log_path}:\n{_log_tail(self.log_path)}"
                )
            try:
                if self.is_ready():
                    return
            except Exception as exc:  # any failure of the probe means "not yet"
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        self.stop()
        raise ServerUnavailable(
            f"{self.name} was not ready on port {self.port} after {timeout:.0f}s ({last_error}); "
            f"log {self.log_path}:\n{_log_tail(self.log_path)}"
        )

    def stop(self, timeout: float = _STOP_TIMEOUT_S) -> None:
        """Stop the server and wait until its process has exited; its data is kept."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(self.stop_signal)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        atexit.unregister(self.close)

    def __enter__(self) -> ManagedServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _postgres_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL installation's bin directory, if any."""
    candidates = [
        p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres") if p.is_file()
    ]

    def major(bin_dir: Path) -> int:
        return int(bin_dir.parent.name) if bin_dir.parent.name.isdigit() else 0

    return max(candidates, key=major) if candidates else None


def _ensure_system_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell",
             "/usr/sbin/nologin", name],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise ServerUnavailable(
                f"could not create system user {name}: {result.stderr.strip()}"
            ) from None


class PostgresServer(ManagedServer):
    """A private PostgreSQL cluster, run as a non-root user (postgres refuses to run as root)."""

    name = "postgres"
    # "Fast" shutdown: disconnect clients, write a checkpoint, exit.
    stop_signal = signal.SIGINT

    def __init__(
        self,
        *,
        hosts: tuple[str, ...] | None = None,
        user: str = "audiotext",
        password: str | None = None,
        database: str = "audiotext",
    ) -> None:
        ensure_debian_package("postgresql", lambda: _postgres_bin_dir() is not None)
        bin_dir = _postgres_bin_dir()
        assert bin_dir is not None
        self.bin_dir = bin_dir
        run_as = None
        if os.geteuid() == 0:
            _ensure_system_user("postgres")
            run_as = "postgres"
        super().__init__(hosts=hosts, run_as=run_as)
        self.user = user
        self.password = password or secrets.token_hex(12)
        self.database = database
        self.data_dir = self.workdir / "data"
        self._initdb()

    def _initdb(self) -> None:
        account = pwd.getpwnam(self.run_as) if self.run_as is not None else None
        password_file = self.workdir / "password"
        password_file.write_text(self.password + "\n")
        if account is not None:
            os.chown(password_file, account.pw_uid, account.pw_gid)
        password_file.chmod(0o600)
        result = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "--pgdata", str(self.data_dir),
                "--username", self.user,
                "--pwfile", str(password_file),
                "--auth-host", "scram-sha-256",
                "--auth-local", "trust",
                "--encoding", "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            check=False,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
        )  # fmt: skip
        password_file.unlink()
        if result.returncode != 0:
            raise ServerUnavailable(f"initdb failed: {(result.stderr or result.stdout).strip()}")
        if self.hosts != (LOOPBACK,):
            # initdb only admits loopback clients; pods connect from cluster addresses.
            with (self.data_dir / "pg_hba.conf").open("a") as hba:
                hba.write("host all all 0.0.0.0/0 scram-sha-256\n")
                hba.write("host all all ::/0 scram-sha-256\n")

    def command(self) -> list[str]:
        listen = "*" if self.hosts == ("0.0.0.0",) else ",".join(self.hosts)
        settings = {
            "listen_addresses": listen,
            "unix_socket_directories": str(self.workdir),
            "max_connections": "200",
            "logging_collector": "off",
            # Durability is not what these tests are about; speed is.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        command = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for key, value in settings.items():
            command += ["-c", f"{key}={value}"]
        return command

    def environment(self) -> dict[str, str]:
        return {**os.environ, "LC_ALL": "C"}

    def dsn_for(self, database: str | None = None, host: str | None = None) -> str:
        """A libpq connection string (for ``psycopg.connect``)."""
        return (
            f"postgresql://{self.user}:{self.password}@{host or self.host}:{self.port}"
            f"/{database or self.database}"
        )

    def url_for(self, database: str | None = None, host: str | None = None) -> str:
        """A SQLAlchemy URL using the psycopg 3 driver."""
        return "postgresql+psycopg" + self.dsn_for(database, host).removeprefix("postgresql")

    def url_for_host(self, host: str) -> str:
        return self.url_for(host=host)

    @property
    def dsn(self) -> str:
        return self.dsn_for()

    @property
    def url(self) -> str:
        return self.url_for()

    def is_ready(self) -> bool:
        import psycopg

        with psycopg.connect(self.dsn_for("postgres"), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True

    def after_first_start(self) -> None:
        self._admin(f'CREATE DATABASE "{self.database}"')

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn_for("postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        name = name or f"test_{secrets.token_hex(6)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, name_or_url: str) -> None:
        """Drop a database (by name or URL), disconnecting its clients first."""
        name = name_or_url.rsplit("/", 1)[-1].split("?", 1)[0]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RedisServer(ManagedServer):
    """A private Redis server without persistence."""

    name = "redis"

    def __init__(self, *, hosts: tuple[str, ...] | None = None) -> None:
        ensure_debian_package("redis-server", lambda: _redis_binary() is not None)
        binary = _redis_binary()
        assert binary is not None
        self.binary = binary
        super().__init__(hosts=hosts)

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", *self.hosts,
            "--dir", str(self.workdir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            # Reached from cluster addresses without a password when a listen host is added.
            "--protected-mode", "no" if self.hosts != (LOOPBACK,) else "yes",
        ]  # fmt: skip

    def url_for_host(self, host: str, db: int = 0) -> str:
        return f"redis://{host}:{self.port}/{db}"

    @property
    def url(self) -> str:
        return self.url_for_host(self.host)

    def is_ready(self) -> bool:
        import redis

        client = redis.Redis(host=self.host, port=self.port, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()


def _redis_binary() -> str | None:
    found = shutil.which("redis-server")
    if found is None and Path("/usr/bin/redis-server").is_file():
        found = "/usr/bin/redis-server"
    return found


ServerT = TypeVar("ServerT", bound=ManagedServer)


def build_minio() -> Path:
    """The MinIO binary: ``$AUDIOTEXT_MINIO_BINARY``, or the one hack/minio/build.sh builds."""
    override = os.environ.get(MINIO_BINARY_ENV)
    if override:
        if not os.access(override, os.X_OK):
            raise ServerUnavailable(f"{MINIO_BINARY_ENV}={override} is not an executable file")
        return Path(override)
    try:
        result = subprocess.run(
            ["bash", str(MINIO_BUILD_SCRIPT)],
            capture_output=True,
            text=True,
            check=False,
            timeout=_MINIO_BUILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerUnavailable(
            f"{MINIO_BUILD_SCRIPT} did not finish in {_MINIO_BUILD_TIMEOUT_S:.0f}s"
        ) from exc
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines or not os.access(lines[-1], os.X_OK):
        raise ServerUnavailable(
            f"{MINIO_BUILD_SCRIPT} failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
        )
    return Path(lines[-1])


class MinioServer(ManagedServer):
    """A private single-drive MinIO server: a real S3 API on plain HTTP."""

    name = "minio"

    def __init__(
        self,
        *,
        hosts: tuple[str, ...] | None = None,
        access_key: str = "audiotext",
        secret_key: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.binary = build_minio()
        super().__init__(hosts=hosts)
        self.console_port = free_port(self.hosts)
        self.access_key = access_key
        self.secret_key = secret_key or secrets.token_hex(16)
        self.region = region
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir()

    def command(self) -> list[str]:
        # MinIO takes one listen address and adds loopback itself: given the address pods
        # reach, it listens there and on loopback, not on every interface.
        bind = self.hosts[-1]
        bind = "" if bind in _WILDCARDS else bind
        return [
            str(self.binary), "server", str(self.data_dir),
            "--address", f"{bind}:{self.port}",
            "--console-address", f"{bind}:{self.console_port}",
            "--quiet",
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIO_", "AWS_"))}
        env.update(
            {
                "MINIO_ROOT_USER": self.access_key,
                "MINIO_ROOT_PASSWORD": self.secret_key,
                "MINIO_SITE_REGION": self.region,
                "MINIO_BROWSER": "off",
                "MINIO_UPDATE": "off",
                # Allows a data directory on the root drive.
                "MINIO_CI_CD": "on",
                "HOME": str(self.workdir),
            }
        )
        return env

    def url_for_host(self, host: str) -> str:
        return f"http://{host}:{self.port}"

    @property
    def endpoint_url(self) -> str:
        return self.url_for_host(self.host)

    def env(self, host: str | None = None) -> dict[str, str]:
        """The AWS_* variables that point an S3 client (boto3, the AWS CLI) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.url_for_host(host or self.host),
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server, signing with SigV4 and path-style addressing."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config),
        )

    def is_ready(self) -> bool:
        probe = f"{self.endpoint_url}/minio/health/ready"
        try:
            with urllib.request.urlopen(probe, timeout=2) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError:
            return False


def _serve(server_type: Callable[[], ServerT]) -> Iterator[ServerT]:
    """Create and start a server, yield it, and always close it; a failure fails, never skips."""
    failure: ServerUnavailable | None = None
    server: ServerT | None = None
    try:
        server = server_type()
        server.start()
    except ServerUnavailable as exc:
        failure = exc
    if failure is not None or server is None:
        if server is not None:
            server.close()
        # Outside the except block, so the report shows the error once, without a chain.
        pytest.fail(_unavailable_message(failure), pytrace=False)
    try:
        yield server
    finally:
        server.close()


def _unavailable_message(exc: ServerUnavailable | None) -> str:
    where = "CI=true: a test server that cannot start fails the run" if in_ci() else ""
    return f"test server unavailable: {exc}" + (f"\n({where})" if where else "")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session."""
    yield from _serve(PostgresServer)


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database, dropped after the test."""
    if not postgres_server.running:
        postgres_server.start()
    url = postgres_server.create_database()
    yield url
    if not postgres_server.running:
        postgres_server.start()
    postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for the whole session."""
    yield from _serve(RedisServer)


@pytest.fixture(scope="session")
def minio_server() -> Iterator[MinioServer]:
    """A MinIO (S3) server for the whole session; built from source on first use, then cached."""
    yield from _serve(MinioServer)
