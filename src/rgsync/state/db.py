"""The SQLite connection under the state store: opening, migrations, transactions, timestamps.

The database file is private to the user (mode 0600 in a 0700 directory) because it holds
subjects, addresses and record ids. It runs in WAL mode so `rgsync status` can read while a run
writes. Every change goes through `transaction()`: nothing is written in SQLite's implicit
autocommit transactions, so a crash never leaves half of a logical change behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from rgsync.model import utc
from rgsync.state.records import StateStoreError
from rgsync.state.schema import MIGRATIONS

SCHEMA_VERSION_KEY = "schema_version"
# How long a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT_SECONDS = 10.0


def make_private_dir(directory: Path) -> None:
    """Create `directory` and any missing parents with mode 0700; existing ones are left as they are."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made by a concurrent run in the meantime
        # mkdir's mode is filtered by the umask; the directory must not be group/world readable.
        os.chmod(path, 0o700)


def make_private_file(path: Path) -> None:
    """Create `path` (empty) with mode 0600 if missing, and take away group/other access if present."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            os.fchmod(fd, mode & 0o700)
    finally:
        os.close(fd)


def to_text(dt: datetime) -> str:
    """A datetime as stored: UTC ISO-8601 with a fixed width, so text order is time order."""
    return utc(dt).isoformat(timespec="microseconds")


def from_text(text: str) -> datetime:
    """Read back a stored datetime (always aware, UTC)."""
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def optional_from_text(text: str | None) -> datetime | None:
    """`from_text` for nullable columns."""
    return None if text is None else from_text(text)


def dump_json(value: object) -> str:
    """JSON as stored: compact, keys in the order given, non-ASCII kept readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (comments and quoted ';' are handled by SQLite)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    leftover = [line for line in buffer.splitlines() if line.strip() and not line.strip().startswith("--")]
    if leftover:
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:60]!r}")


class Database:
    """An open state database: one connection, explicit (nestable) transactions.

    Not thread-safe: one store per thread, as one `rgsync` process has one session.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._conn = connection
        self._depth = 0
        self.path = path

    # ------------------------------------------------------------------ opening

    @classmethod
    def _connect(cls, path: Path) -> sqlite3.Connection:
        """Create the file privately if needed, connect, switch to WAL and apply pending migrations."""
        path = Path(path)
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
            raise StateStoreError(
                f"the state database {path} cannot be used ({exc}); move it aside to start with a fresh state"
            ) from exc
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        return connection

    def close(self) -> None:
        """Close the connection. Using the store afterwards is an error."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block as one transaction: all of it is committed, or none of it on an exception.

        Nested use is allowed: an inner block is a savepoint, so its failure undoes only its own
        changes when the outer block catches the exception; the outermost block commits.
        """
        if self._depth == 0:
            # IMMEDIATE: take the write lock now, so a concurrent writer waits instead of failing
            # half-way through with SQLITE_BUSY on a read-to-write upgrade.
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StateStoreError(
                    f"the state database {self.path} is busy ({exc}); another rgsync process is writing "
                    "to it, try again in a moment"
                ) from exc
            self._depth = 1
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
        else:
            name = f"nested_{self._depth}"
            self._conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._conn.execute(f"ROLLBACK TO {name}")
                self._conn.execute(f"RELEASE {name}")
                raise
            else:
                self._conn.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1

    # ------------------------------------------------------------------ helpers

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self.transaction():
            return self._conn.execute(sql, params)

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        return _schema_version(self._conn)


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
            _migrate(connection, path)
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _schema_version(connection: sqlite3.Connection) -> int:
    has_meta = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (SCHEMA_VERSION_KEY,)).fetchone()
    return int(json.loads(row[0])) if row else 0


def _migrate(connection: sqlite3.Connection, path: Path, migrations: Sequence[str] | None = None) -> None:
    """Apply every migration newer than the database, each in its own transaction.

    `migrations` defaults to the module's `MIGRATIONS` (looked up at call time so tests can add one).
    """
    migrations = MIGRATIONS if migrations is None else migrations
    known = len(migrations)
    version = _schema_version(connection)
    if version > known:
        raise StateStoreError(
            f"the state database {path} was written by a newer rgsync (schema {version}, this "
            f"version knows {known}); upgrade rgsync"
        )
    # An up-to-date database is opened without taking the write lock, so `rgsync status` can read
    # while a run writes.
    for number in range(version + 1, known + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Read the version again under the write lock: another process may have migrated meanwhile.
            if _schema_version(connection) < number:
                for statement in _statements(migrations[number - 1]):
                    connection.execute(statement)
                connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (SCHEMA_VERSION_KEY, dump_json(number)),
                )
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
