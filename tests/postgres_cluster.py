"""The tests' throw-away PostgreSQL clusters and the fixtures that hand them out.

The cluster is the package's own (`rgsync.fleet.devcluster.ThrowawayCluster`: `initdb` and
`pg_ctl` in a fresh temporary folder, a Unix socket there and a free port on 127.0.0.1,
durability off; as root it runs as the `postgres` account through `runuser`). One cluster serves
a whole test session (per xdist worker); tests that restart the server or run fleet workers on it
take one of their own with `throwaway_postgres()`.

Each test gets its own profile (its own schema, like every user of a shared database) or, with
`pg_database`, a database of its own. Without the server binaries the PostgreSQL tests skip,
naming the package to install; `RGSYNC_PG_BIN` points at them when they are somewhere unusual,
and `RGSYNC_REQUIRE_POSTGRES=1` (set by `.ci/run`) turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync.fleet.devcluster import ServerMissingError, ThrowawayCluster
from rgsync.state import PostgresLocation

SUPERUSER = "rgsync_test"
# A role that must give its password (over TCP), for the tests of where the password comes from.
PASSWORD_ROLE = "rgsync_pw"
# Several test processes run side by side, each with its own cluster: keep each one small.
TEST_MAX_CONNECTIONS = 60


def _require() -> bool:
    return os.environ.get("RGSYNC_REQUIRE_POSTGRES", "") not in ("", "0")


def start_cluster(*, max_connections: int = TEST_MAX_CONNECTIONS) -> ThrowawayCluster:
    """A started throw-away cluster (`rgsync.fleet.devcluster`), or the test skips naming what to
    install; with RGSYNC_REQUIRE_POSTGRES=1 (CI) a missing server fails the test instead."""
    try:
        return ThrowawayCluster(
            max_connections=max_connections, password_roles=(PASSWORD_ROLE,), superuser=SUPERUSER
        ).start()
    except ServerMissingError as exc:
        if _require():
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@contextlib.contextmanager
def throwaway_postgres(*, max_connections: int = TEST_MAX_CONNECTIONS) -> Iterator[ThrowawayCluster]:
    """A cluster of the test's own (for tests that restart it or run workers on it), destroyed after."""
    cluster = start_cluster(max_connections=max_connections)
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayCluster]:
    """The session's throw-away PostgreSQL cluster (one per xdist worker)."""
    with throwaway_postgres() as cluster:
        yield cluster


_names = itertools.count(1)


@pytest.fixture
def pg_location(pg_cluster: ThrowawayCluster) -> Iterator[PostgresLocation]:
    """A fresh profile in the session's shared test database: its own schema, dropped afterwards."""
    profile = f"t{os.getpid()}-{next(_names)}"
    location = PostgresLocation(conninfo=pg_cluster.url, profile=profile)
    yield location
    with contextlib.suppress(Exception):
        pg_cluster.sql(f'DROP SCHEMA IF EXISTS "{location.schema}" CASCADE')


@pytest.fixture
def pg_database(pg_cluster: ThrowawayCluster) -> Iterator[str]:
    """A fresh, empty database of its own (for tests that look at a whole database); its URL."""
    name = f"db_{os.getpid()}_{next(_names)}"
    pg_cluster.sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield pg_cluster.database_url(name)
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
