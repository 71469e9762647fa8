"""A throw-away PostgreSQL cluster for the tests, and the fixtures that hand it out.

One cluster per test session (per xdist worker): `initdb` and `pg_ctl` in a fresh temporary
folder, listening on a Unix socket in that folder and on 127.0.0.1 at a free port, with durability
switched off (a test database is thrown away, so fsync buys nothing). PostgreSQL refuses to run as
root, so when the tests run as root the cluster belongs to the `postgres` user (`runuser`).

Each test gets its own profile (its own schema, like every user of a shared database) or, with
`pg_database`, a database of its own. Without the server binaries the PostgreSQL tests skip,
naming the package to install; `RGSYNC_PG_BIN` points at them when they are somewhere unusual,
and `RGSYNC_REQUIRE_POSTGRES=1` (set by `.ci/run`) turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rgsync.state import PostgresLocation

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found; install them (Debian/Ubuntu: "
    "`apt-get install postgresql`, macOS: `brew install postgresql@15`) or set RGSYNC_PG_BIN to their folder"
)
SUPERUSER = "rgsync_test"
# A role that must give its password (over TCP), for the tests of where the password comes from.
PASSWORD_ROLE = "rgsync_pw"
_RUN_AS = "postgres"  # the account PostgreSQL runs under when the tests run as root


def find_server_binaries() -> Path | None:
    """The folder holding `initdb`, `pg_ctl` and `postgres`, or None."""
    candidates: list[str] = []
    if os.environ.get("RGSYNC_PG_BIN"):
        candidates.append(os.environ["RGSYNC_PG_BIN"])
    # Debian and Ubuntu keep server binaries in a versioned folder off PATH; newest first.
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2] or 0), reverse=True
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for folder in candidates:
        if all((Path(folder) / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PgCluster:
    """A running throw-away cluster: where its socket is, its port, and how to reach a database."""

    bin_dir: Path
    root: Path
    port: int
    as_user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, database: str = "postgres") -> str:
        """A libpq URL reaching `database` over the Unix socket (no password: trust)."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def tcp_url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _command(self, *args: str) -> list[str]:
        if self.as_user:
            return ["runuser", "-u", self.as_user, "--", *args]
        return list(args)

    def _run(self, *args: str) -> None:
        done = subprocess.run(self._command(*args), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stdout}{done.stderr}{tail}")

    def _options(self) -> str:
        return " ".join(
            (
                f"-p {self.port}",
                f"-k {self.socket_dir}",
                "-c listen_addresses=127.0.0.1",
                # Nothing here must survive a power cut: the cluster is deleted after the run.
                "-c fsync=off -c full_page_writes=off",
                "-c max_connections=60 -c shared_buffers=16MB",
            )
        )

    def _pg_ctl_start(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", self._options(),
            "-l", str(self.root / "server.log"), "-w", "start",
        )  # fmt: skip

    def start(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        hba = self.data / "pg_hba.conf"
        # First match wins: this role signs in with its password over TCP; everyone else is trusted.
        hba.write_text(f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        self._pg_ctl_start()

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (`immediate`: no shutdown checkpoint, as the data is thrown away)."""
        with contextlib.suppress(RuntimeError):
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop the server hard and start it again on the same port and data (a crash and recovery)."""
        self.stop()
        self._pg_ctl_start()

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """Run one statement as the superuser (autocommit) and return its rows."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            cursor = connection.execute(statement)
            return list(cursor.fetchall()) if cursor.description else []


def start_cluster() -> PgCluster:
    """Create and start a cluster in a new temporary folder (owned by `postgres` when root)."""
    bin_dir = find_server_binaries()
    if bin_dir is None:
        raise FileNotFoundError(INSTALL_HINT)
    as_user = _RUN_AS if os.geteuid() == 0 else None
    # Not under pytest's own temp folder: it is private to root, and the server must reach it.
    # Kept short: a Unix socket's path has a length limit of about 100 bytes.
    root = Path(tempfile.mkdtemp(prefix="rgsync-pg-"))
    if as_user:
        shutil.chown(root, user=as_user, group=as_user)
    os.chmod(root, 0o755)  # the socket inside must be reachable by the tests' user
    last: Exception | None = None
    for _ in range(3):  # a free port can be taken between the probe and the start
        cluster = PgCluster(bin_dir=bin_dir, root=root, port=_free_port(), as_user=as_user)
        try:
            if not cluster.data.exists():
                cluster.start()
            else:
                cluster.restart()
            return cluster
        except RuntimeError as exc:
            last = exc
            time.sleep(0.2)
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"could not start the test PostgreSQL cluster: {last}")


def _require() -> bool:
    return os.environ.get("RGSYNC_REQUIRE_POSTGRES", "") not in ("", "0")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The session's throw-away PostgreSQL cluster (one per xdist worker)."""
    try:
        cluster = start_cluster()
    except FileNotFoundError as exc:
        if _require():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


_names = itertools.count(1)


@pytest.fixture
def pg_location(pg_cluster: PgCluster) -> Iterator[PostgresLocation]:
    """A fresh profile in the session's shared test database: its own schema, dropped afterwards."""
    profile = f"t{os.getpid()}-{next(_names)}"
    location = PostgresLocation(conninfo=pg_cluster.url(), profile=profile)
    yield location
    with contextlib.suppress(Exception):
        pg_cluster.sql(f'DROP SCHEMA IF EXISTS "{location.schema}" CASCADE')


@pytest.fixture
def pg_database(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh, empty database of its own (for tests that look at a whole database); its URL."""
    name = f"db_{os.getpid()}_{next(_names)}"
    pg_cluster.sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield pg_cluster.url(name)
    with contextlib.suppress(Exception):
        pg_cluster.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: a test taking it (or `state_where`) runs once per backend."""
    return str(request.param)


@pytest.fixture
def state_where(backend_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | PostgresLocation:
    """Where a test's state lives: a SQLite file in a temp folder, or a fresh PostgreSQL profile."""
    if backend_name == "sqlite":
        return tmp_path / "profile" / "state" / "state.sqlite3"
    location: PostgresLocation = request.getfixturevalue("pg_location")
    return location


def raw_sql(where: Path | PostgresLocation, *statements: str) -> list[tuple[object, ...]]:
    """Run statements on a connection of their own, outside the store (to damage or inspect
    what it wrote), committed; the rows of the last one."""
    rows: list[tuple[object, ...]] = []
    if isinstance(where, PostgresLocation):
        import psycopg

        with psycopg.connect(where.conninfo, autocommit=True) as connection:
            connection.execute(f'SET search_path TO "{where.schema}"')
            for statement in statements:
                cursor = connection.execute(statement)  # type: ignore[call-overload]
                rows = [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        return rows
    import sqlite3

    connection = sqlite3.connect(where)
    try:
        for statement in statements:
            cursor = connection.execute(statement)
            rows = [tuple(row) for row in cursor.fetchall()]
        connection.commit()
    finally:
        connection.close()
    return rows
