"""The PostgreSQL backend (psycopg 3): many profiles' state in one shared database.

Each profile's tables live in their own schema (`rgsync_<profile>`, see `location.schema_for`):
the statements of the store are the SQLite ones, unqualified, and the connection's `search_path`
points at the profile's schema, so one profile can never read or write another's rows, and
removing a user is one `DROP SCHEMA`. The numbered migrations are the same; where PostgreSQL's
dialect must differ (identity columns) `schema.POSTGRESQL_MIGRATIONS` says it.

Concurrency mirrors the SQLite file: writers of one profile are serialised by a transaction-scoped
advisory lock (SQLite's BEGIN IMMEDIATE), migrations by another, and the run lock is a
session-scoped advisory lock keyed by the profile, which the server drops when the holder's
connection ends, however it ends.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.pq import TransactionStatus

from rgsync.errors import LockHeldError
from rgsync.state import pg_reuse
from rgsync.state import schema as state_schema
from rgsync.state.backend import Row, StateBackend
from rgsync.state.db import damaged, migrate
from rgsync.state.location import PostgresLocation
from rgsync.state.records import StateDamagedError, StateStoreError, StateUnavailableError

CONNECT_TIMEOUT_SECONDS = 10
# How long a writer waits for another writer of the same profile (as SQLite's busy timeout).
LOCK_TIMEOUT = "10s"

_PASSWORD_HINT = (
    "; give the password in ~/.pgpass (or the file PGPASSFILE names), a pg_service.conf service, "
    "or `rgsync state password`"
)


def lock_key(purpose: str, schema: str) -> int:
    """A signed 64-bit advisory lock key for `purpose` ('run', 'write', 'migrate') on a schema.

    Derived from a hash, so every machine computes the same key for the same profile.
    """
    digest = hashlib.sha256(f"rgsync:{purpose}:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@functools.lru_cache(maxsize=256)
def _dialect(sql: str) -> str:
    """The store's `?` placeholders as psycopg's `%s` (a literal '%' doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PgRow:
    """A row by column name or position, like `sqlite3.Row`."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        return list(self._index)


def _rows(cursor: Any) -> Any:
    index = {column.name: n for n, column in enumerate(cursor.description or ())}
    return lambda values: PgRow(values, index)


def _application_name(purpose: str) -> str:
    # Shown by `pg_stat_activity`, and read back to name who holds a profile's run lock.
    return f"rgsync {purpose} pid {os.getpid()} on {socket.gethostname()}"[:63]


def _login(location: PostgresLocation, purpose: str, password: str | None) -> psycopg.Connection[Any]:
    extra: dict[str, Any] = {"password": password} if password else {}
    return psycopg.connect(
        location.conninfo,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name=_application_name(purpose),
        row_factory=_rows,
        **extra,
    )


def connect(location: PostgresLocation, purpose: str) -> psycopg.Connection[Any]:
    """A connection in autocommit mode (the store opens its transactions itself).

    `StateUnavailableError` (one line) when the server cannot be reached or refuses the login.
    """
    connection = pg_reuse.take(_reuse_key(location))
    if connection is None:
        connection = _fresh(location, purpose)
    try:
        connection.execute(pgsql.SQL("SET lock_timeout = {}").format(pgsql.Literal(LOCK_TIMEOUT)))
        connection.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(location.schema)))
    except psycopg.Error as exc:
        connection.close()
        raise StateUnavailableError(
            f"the state database {location.conninfo} refused the session settings ({_first_line(exc)})"
        ) from exc
    return connection


def release(location: PostgresLocation, connection: psycopg.Connection[Any]) -> None:
    """Done with a connection from `connect`: closed, or kept for reuse in a fleet worker."""
    pg_reuse.release(_reuse_key(location), connection)


def _reuse_key(location: PostgresLocation) -> tuple[str, str]:
    # Connections to one server as one role, whatever schema: `connect` sets the search path.
    return ("state", location.conninfo)


def _fresh(location: PostgresLocation, purpose: str) -> psycopg.Connection[Any]:
    try:
        connection = _login(location, purpose, location.password)
    except psycopg.OperationalError as exc:
        detail = _first_line(exc)
        wants_password = "password" in detail.lower()
        stored = location.password_source() if wants_password and location.password_source else None
        try:
            if not stored:
                raise
            # libpq found no password (or a wrong one): the credentials store may hold it.
            connection = _login(location, purpose, stored)
        except psycopg.Error as again:
            detail = _first_line(again)
            hint = _PASSWORD_HINT if "password" in detail.lower() else ""
            raise StateUnavailableError(
                f"cannot connect to the state database {location.conninfo} ({detail}){hint}; "
                "check that PostgreSQL is running and the state-url is right"
            ) from exc
    except psycopg.Error as exc:
        raise StateUnavailableError(
            f"cannot connect to the state database {location.conninfo} ({_first_line(exc)}); "
            "check that PostgreSQL is running and the state-url is right"
        ) from exc
    return connection


class PostgresBackend(StateBackend):
    """A profile's state in its own schema of a PostgreSQL database (see the module docstring)."""

    dialect = "postgresql"
    # The wire protocol counts a statement's parameters in 16 bits.
    max_params = 65535

    def __init__(self, connection: psycopg.Connection[Any], location: PostgresLocation) -> None:
        self._conn = connection
        self._location = location
        self._schema = location.schema

    @classmethod
    def open(cls, location: PostgresLocation, *, create: bool = True) -> PostgresBackend | None:
        """Connect, and create or migrate the profile's schema as needed.

        With `create=False` nothing is created: None when the profile has no state yet.
        """
        connection = connect(location, "state")
        backend = cls(connection, location)
        try:
            with backend.errors():
                if not create and not backend.schema_exists():
                    connection.close()
                    return None
                migrate(backend)
        except BaseException:
            connection.close()
            raise
        return backend

    def schema_exists(self) -> bool:
        """True when the profile's schema exists (its state has been created)."""
        row = self._conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self._schema,)).fetchone()
        return row is not None

    @property
    def location(self) -> str:
        return str(self._location)

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    def close(self) -> None:
        release(self._location, self._conn)

    # ------------------------------------------------------------------ statements

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(_dialect(sql), tuple(params) if params else None)

    def insert_returning_id(self, sql: str, params: Sequence[Any]) -> int:
        row = self.execute(f"{sql} RETURNING id", params).fetchone()
        assert row is not None
        return int(row[0])

    def replace(self, table: str, values: Mapping[str, Any], unique: Sequence[Sequence[str]]) -> None:
        # SQLite's INSERT OR REPLACE removes every row the new one collides with, on any unique
        # key; ON CONFLICT can name only one, so the colliding rows are deleted first. Writers of
        # a profile are serialised (`begin`), so nothing slips in between.
        where = " OR ".join("(" + " AND ".join(f"{column} = ?" for column in key) + ")" for key in unique)
        self.execute(
            f"DELETE FROM {table} WHERE {where}", [values[column] for key in unique for column in key]
        )
        names = ", ".join(values)
        marks = ", ".join("?" * len(values))
        self.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(values.values()))

    def insert_many_returning_ids(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int]:
        if not rows:
            return []
        row_marks = "(" + ", ".join("?" * len(columns)) + ")"
        found = self.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row_marks] * len(rows))} "
            "RETURNING id",
            [value for row in rows for value in row],
        ).fetchall()
        # The identity column takes its values in the order VALUES lists the rows, and writers of
        # a profile are serialised (`begin`): ascending ids are row order, whatever order RETURNING
        # hands them back in.
        return sorted(int(row[0]) for row in found)

    def replace_many(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        unique: Sequence[Sequence[str]],
    ) -> None:
        if not rows:
            return
        position = {column: n for n, column in enumerate(columns)}
        keys = [[position[column] for column in key] for key in unique]
        # Every stored row any of them collides with goes, as it would one replace at a time.
        where = " OR ".join(
            "("
            + ", ".join(key)
            + ") IN ("
            + ", ".join(["(" + ", ".join("?" * len(key)) + ")"] * len(rows))
            + ")"
            for key in unique
        )
        self.execute(
            f"DELETE FROM {table} WHERE {where}",
            [row[n] for key in keys for row in rows for n in key],
        )
        # Among the new rows, a later one removes an earlier one it collides with (ON CONFLICT
        # cannot: one INSERT may not touch a row twice), so only the survivors are inserted.
        kept: dict[int, Sequence[Any]] = {}
        holder: dict[tuple[int, tuple[Any, ...]], int] = {}
        for index, row in enumerate(rows):
            for k, key in enumerate(keys):
                earlier = holder.get((k, tuple(row[n] for n in key)))
                if earlier is not None:
                    kept.pop(earlier, None)
            for k, key in enumerate(keys):
                holder[(k, tuple(row[n] for n in key))] = index
            kept[index] = row
        survivors = list(kept.values())
        row_marks = "(" + ", ".join("?" * len(columns)) + ")"
        self.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row_marks] * len(survivors))}",
            [value for row in survivors for value in row],
        )

    # ------------------------------------------------------------------ transactions

    def begin(self) -> None:
        self._conn.execute("BEGIN")
        # One writer per profile at a time, like SQLite's BEGIN IMMEDIATE; released at commit.
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("write", self._schema),))

    def commit(self) -> None:
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn.closed or self._conn.broken:
            return  # the server rolled back what the lost connection had not committed
        if self.in_transaction:
            self._conn.execute("ROLLBACK")

    def rollback_to(self, name: str) -> None:
        if self._conn.closed or self._conn.broken:
            return
        super().rollback_to(name)

    @property
    def in_transaction(self) -> bool:
        if self._conn.closed or self._conn.broken:
            return False
        return self._conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR)

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except (psycopg.IntegrityError, psycopg.InterfaceError) as exc:
            if isinstance(exc, psycopg.InterfaceError) and (self._conn.closed or self._conn.broken):
                raise self._lost(exc) from exc
            raise
        except StateDamagedError as exc:
            raise exc.at(self.location) from exc
        except psycopg.Error as exc:
            if self._conn.closed or self._conn.broken or isinstance(exc, psycopg.errors.AdminShutdown):
                raise self._lost(exc) from exc
            if isinstance(exc, (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled)):
                raise StateStoreError(
                    f"the state database {self.location} is busy ({_first_line(exc)}); another rgsync "
                    "process is writing to it, try again in a moment"
                ) from exc
            if isinstance(exc, (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn)):
                raise damaged(self.location, _first_line(exc)) from exc
            if isinstance(exc, psycopg.errors.InsufficientPrivilege):
                raise StateStoreError(
                    f"the state database {self.location} refused access ({_first_line(exc)}); grant the "
                    "state-url's role rights on its database and schema"
                ) from exc
            raise StateStoreError(
                f"the state database {self.location} failed ({_first_line(exc)}); run `rgsync state check`"
            ) from exc

    def _lost(self, exc: BaseException) -> StateUnavailableError:
        return StateUnavailableError(
            f"lost the connection to the state database {self.location} ({_first_line(exc)}); "
            "what was not committed is rolled back and the next run carries on"
        )

    # ------------------------------------------------------------------ schema

    def tables(self) -> set[str]:
        rows = self._conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
            (self._schema,),
        ).fetchall()
        return {row[0] for row in rows}

    def tables_columns(self, tables: Iterable[str]) -> dict[str, set[str]]:
        # One catalog query for the whole schema instead of one per table: every open verifies
        # the schema, and a fleet worker opens a user's state several times a session.
        wanted = list(tables)
        found: dict[str, set[str]] = {table: set() for table in wanted}
        rows = self._conn.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            (self._schema, wanted),
        ).fetchall()
        for row in rows:
            found[row[0]].add(row[1])
        return found

    def columns(self, table: str) -> set[str]:
        rows = self._conn.execute(
            "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
            (self._schema, table),
        ).fetchall()
        return {row[0] for row in rows}

    def row_ids(self, table: str) -> Iterator[tuple[object, Row]]:
        for row in self._conn.execute(f"SELECT ctid::text AS _rowid, * FROM {table}"):  # known names only
            yield row["_rowid"], row

    def dialect_script(self, number: int, script: str) -> str:
        released = state_schema.MIGRATIONS
        if number <= len(released) and script == released[number - 1]:
            return state_schema.POSTGRESQL_MIGRATIONS.get(number, script)
        return script

    def begin_migration(self) -> None:
        self._conn.execute("BEGIN")
        # Two first runs of one profile at the same instant: one creates, the other waits and
        # then finds the work done (it reads the version again under this lock).
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("migrate", self._schema),))
        self._conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(self._schema)))

    def migration_failure(self, exc: BaseException) -> bool:
        if self._conn.closed or self._conn.broken:
            return False
        return isinstance(exc, psycopg.Error) and not isinstance(exc, psycopg.OperationalError)


_HOLDER = re.compile(r"pid (\d+)(?: on (\S+))?")


class AdvisoryLock:
    """The profile's run lock in PostgreSQL: `pg_try_advisory_lock` on a connection of its own,
    keyed by the profile, so two runs of one user on different machines never overlap.

    Like `ProfileLock` it does not wait: `LockHeldError` (exit 75) names the holder's pid and
    machine. The server releases the lock when the holder's connection ends, so a killed run
    leaves nothing stale behind.
    """

    def __init__(self, location: PostgresLocation) -> None:
        self.location = location
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> AdvisoryLock:
        connection = connect(self.location, "run")
        try:
            row = connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (lock_key("run", self.location.schema),)
            ).fetchone()
            if row is None or not row[0]:
                holder = _holder_text(connection, self.location)
                raise LockHeldError(f"another rgsync run is in progress{holder}")
        except psycopg.Error as exc:
            connection.close()
            raise StateUnavailableError(
                f"cannot take the run lock in the state database {self.location} ({_first_line(exc)})"
            ) from exc
        except BaseException:
            connection.close()
            raise
        self._conn = connection
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection, self._conn = self._conn, None
        if connection is not None:
            # Closing the connection releases the lock; an explicit unlock first keeps it short
            # even if the close is slow.
            with contextlib.suppress(psycopg.Error):
                connection.execute("SELECT pg_advisory_unlock(%s)", (lock_key("run", self.location.schema),))
            release(self.location, connection)

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._conn is not None

    @staticmethod
    def holder(location: PostgresLocation) -> int | None:
        """The pid of the run holding the lock (0 when unknown), None when it is free."""
        connection = connect(location, "status")
        try:
            found = _holder(connection, location)
        finally:
            release(location, connection)
        if found is None:
            return None
        match = _HOLDER.search(found)
        return int(match.group(1)) if match else 0


def _holder(connection: psycopg.Connection[Any], location: PostgresLocation) -> str | None:
    """The application name of the session holding `location`'s run lock, None when free."""
    key = lock_key("run", location.schema)
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = connection.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
        "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (unsigned >> 32, unsigned & 0xFFFFFFFF),
    ).fetchone()
    return None if row is None else str(row[0] or "")


def _holder_text(connection: psycopg.Connection[Any], location: PostgresLocation) -> str:
    found = _holder(connection, location)
    match = _HOLDER.search(found or "")
    if not match:
        return ""
    pid, host = match.group(1), match.group(2)
    return f" (pid {pid} on {host})" if host and host != socket.gethostname() else f" (pid {pid})"


def list_profiles(location: PostgresLocation) -> list[str]:
    """The schemas holding rgsync state in `location`'s database (one per profile), sorted."""
    connection = connect(location, "admin")
    try:
        rows = connection.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rgsync\\_%' ORDER BY nspname"
        ).fetchall()
    finally:
        connection.close()
    return [row[0] for row in rows]


def drop_profile_state(location: PostgresLocation) -> bool:
    """Remove `location`'s profile state (its schema and every table in it); False when absent."""
    connection = connect(location, "admin")
    try:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("migrate", location.schema),))
            existed = connection.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (location.schema,)
            ).fetchone()
            connection.execute(
                pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(pgsql.Identifier(location.schema))
            )
    finally:
        connection.close()
    return existed is not None
