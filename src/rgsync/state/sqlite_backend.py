"""The SQLite backend: one private file per profile, the embedded default for a single user.

The database file is private to the user (mode 0600 in a 0700 directory) because it holds
subjects, addresses and record ids. It runs in WAL mode so `rgsync status` can read while a run
writes. Nothing is written in SQLite's implicit autocommit transactions: the store opens every
transaction itself, so a crash never leaves half of a logical change behind.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rgsync.errors import is_disk_failure, state_store_failure
from rgsync.paths import check_regular_file
from rgsync.state.backend import Row, StateBackend
from rgsync.state.db import (
    NOT_UTF8,
    backup_path,
    damaged,
    make_private_dir,
    make_private_file,
    migrate,
)
from rgsync.state.records import StateDamagedError, StateStoreError

# How long a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT_SECONDS = 10.0


# RETURNING (one statement for many new rows and their ids) came with SQLite 3.35.
_HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)


def _busy(exc: BaseException) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class SqliteBackend(StateBackend):
    """A profile's state in one SQLite file (see the module docstring)."""

    dialect = "sqlite"
    atomic_statements = True

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._conn = connection
        self.path = Path(path)
        # SQLite builds may raise or lower the default of 32766 bound parameters per statement.
        self.max_params = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: Path) -> SqliteBackend:
        """Create the file privately if needed, connect, switch to WAL and apply pending migrations."""
        path = Path(path)
        # A device, pipe or folder where the database belongs is refused, never opened (SPEC §7.11).
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            check_regular_file(name, "state file", "move it aside so rgsync can create the state database")
        try:
            make_private_dir(path.parent)
            make_private_file(path)
        except OSError as exc:
            raise StateStoreError(
                f"cannot create the state database {path}: {exc.strerror or exc}; check that the folder is writable"
            ) from exc
        connection: sqlite3.Connection | None = None
        try:
            # isolation_level=None: the module never opens transactions behind our back; we do.
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            connection.row_factory = sqlite3.Row
            _prepare(connection, path)
        except sqlite3.DatabaseError as exc:
            if connection is not None:
                connection.close()
            raise damaged(path, f"SQLite cannot use it ({exc})") from exc
        except UnicodeDecodeError as exc:
            if connection is not None:
                connection.close()
            raise damaged(path, NOT_UTF8) from exc
        except StateDamagedError as exc:
            if connection is not None:
                connection.close()
            raise exc.at(path) from exc
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        return cls(connection, path)

    @property
    def location(self) -> Path:
        return self.path

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------------ statements

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, tuple(params))

    def insert_returning_id(self, sql: str, params: Sequence[Any]) -> int:
        cursor = self._conn.execute(sql, tuple(params))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def replace(self, table: str, values: Mapping[str, Any], unique: Sequence[Sequence[str]]) -> None:
        del unique  # SQLite's REPLACE finds the colliding rows through the table's own constraints
        names = ", ".join(values)
        marks = ", ".join("?" * len(values))
        self._conn.execute(
            f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})", tuple(values.values())
        )

    def insert_many_returning_ids(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int]:
        if not rows:
            return []
        names = ", ".join(columns)
        row_marks = "(" + ", ".join("?" * len(columns)) + ")"
        if not _HAS_RETURNING:
            return [
                self.insert_returning_id(f"INSERT INTO {table} ({names}) VALUES {row_marks}", row)
                for row in rows
            ]
        flat = tuple(value for row in rows for value in row)
        cursor = self._conn.execute(
            f"INSERT INTO {table} ({names}) VALUES {', '.join([row_marks] * len(rows))} RETURNING id", flat
        )
        # SQLite does not promise the order of RETURNING rows, but it numbers the rows of one
        # statement in the order they are given, under the write lock: ascending ids are row order.
        return sorted(int(row[0]) for row in cursor.fetchall())

    def replace_many(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        unique: Sequence[Sequence[str]],
    ) -> None:
        del unique  # as in `replace`: the table's own constraints find the colliding rows
        if not rows:
            return
        # One INSERT OR REPLACE of many rows resolves the conflicts row by row, in order, so a
        # later row replaces an earlier one of the same statement exactly as separate statements.
        row_marks = "(" + ", ".join("?" * len(columns)) + ")"
        self._conn.execute(
            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES {', '.join([row_marks] * len(rows))}",
            tuple(value for row in rows for value in row),
        )

    # ------------------------------------------------------------------ transactions

    def begin(self) -> None:
        # IMMEDIATE: take the write lock now, so a concurrent writer waits instead of failing
        # half-way through with SQLITE_BUSY on a read-to-write upgrade.
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._busy_error(exc) from exc

    def commit(self) -> None:
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def rollback_to(self, name: str) -> None:
        # SQLite rolls the whole transaction back by itself on SQLITE_FULL or an I/O error; the
        # savepoint is then gone, and the error to report is the original one.
        if self._conn.in_transaction:
            super().rollback_to(name)

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def _busy_error(self, exc: BaseException) -> StateStoreError:
        return StateStoreError(
            f"the state database {self.path} is busy ({exc}); another rgsync process is writing "
            "to it, try again in a moment"
        )

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """A missing table, a malformed page or a file that is no database: one line, never a traceback.

        Constraint violations are left alone: callers rely on them as answers, not as damage.
        """
        try:
            yield
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except sqlite3.OperationalError as exc:
            if is_disk_failure(exc):
                # The disk failed, not the database: the journal makes the next run carry on.
                raise StateStoreError(state_store_failure(exc, self.path.parent)) from exc
            if _busy(exc):
                raise self._busy_error(exc) from exc
            raise damaged(self.path, str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, str(exc)) from exc
        except UnicodeDecodeError as exc:
            raise damaged(self.path, NOT_UTF8) from exc
        except StateDamagedError as exc:
            raise exc.at(self.path) from exc

    # ------------------------------------------------------------------ schema

    def tables(self) -> set[str]:
        return {
            row[0]
            for row in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self._conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}

    def row_ids(self, table: str) -> Iterator[tuple[object, Row]]:
        for row in self._conn.execute(f"SELECT rowid AS _rowid, * FROM {table}"):  # known table names only
            yield row["_rowid"], row

    def dialect_script(self, number: int, script: str) -> str:
        del number
        return script

    def begin_migration(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def keep_copy(self, version: int) -> Path:
        try:
            return _backup(self._conn, self.path, version)
        except OSError as exc:
            raise StateStoreError(
                f"cannot keep a copy of the state database {self.path} before upgrading it "
                f"({exc.strerror or exc}); free some space or check the folder's permissions"
            ) from exc

    def migration_failure(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and not _busy(exc)


def _prepare(connection: sqlite3.Connection, path: Path) -> None:
    """Switch to WAL and migrate, waiting out other processes that are doing the same.

    SQLite does not call its busy handler for every lock the WAL switch and WAL recovery take, so
    two runs started by cron at the same instant on a fresh profile can see "database is locked"
    at once instead of after the busy timeout. Both steps are idempotent, so they are simply tried
    again until the timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    pause = 0.01
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed intent or link survives a power cut, which exactly-once relies on.
            connection.execute("PRAGMA synchronous=FULL")
            migrate(SqliteBackend(connection, path))
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _backup(connection: sqlite3.Connection, path: Path, version: int) -> Path:
    """Copy the database aside (0600) before migrating it from `version`, so an upgrade can be undone.

    Written to a temporary file first, so a crash never leaves a half copy under the backup's name.
    """
    target = backup_path(path, version)
    check_regular_file(target, "state backup", "move it aside so rgsync can keep its backup there")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        copy = sqlite3.connect(tmp_name)
        try:
            connection.backup(copy)
        finally:
            copy.close()
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return target
