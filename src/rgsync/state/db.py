"""The SQLite connection under the state store: opening, migrations, transactions, timestamps.

The database file is private to the user (mode 0600 in a 0700 directory) because it holds
subjects, addresses and record ids. It runs in WAL mode so `rgsync status` can read while a run
writes. Every change goes through `transaction()`: nothing is written in SQLite's implicit
autocommit transactions, so a crash never leaves half of a logical change behind.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, Self, TypeVar

from rgsync.errors import is_disk_failure, state_store_failure
from rgsync.model import utc
from rgsync.paths import check_regular_file
from rgsync.state.records import StateDamagedError, StateStoreError
from rgsync.state.schema import MIGRATIONS

P = ParamSpec("P")
R = TypeVar("R")

SCHEMA_VERSION_KEY = "schema_version"
NOT_UTF8 = "it holds text that is not UTF-8"
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


def damaged(path: Path | None, what: str) -> StateDamagedError:
    """The one-line error for a state database that cannot be trusted, pointing at `rgsync state check`."""
    return StateDamagedError(what, path)


def current_migrations() -> tuple[str, ...]:
    """The migrations this rgsync applies (looked up at call time, so tests can add one)."""
    return tuple(MIGRATIONS)


def backup_path(path: Path, version: int) -> Path:
    """Where the copy of the database taken before migrating it from schema `version` is kept."""
    return path.with_name(f"{path.name}.v{version}.backup")


def backups(path: Path) -> list[Path]:
    """The copies kept before migrations, newest schema first."""

    def version(found: Path) -> int:
        middle = found.name[len(path.name) + 2 : -len(".backup")]
        return int(middle) if middle.isdigit() else -1

    found = [b for b in path.parent.glob(f"{path.name}.v*.backup") if version(b) >= 0]
    return sorted(found, key=version, reverse=True)


def stored_rows(table: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function that turns a row of `table` into a record: a value it cannot read back
    (bad JSON, a date that is not a date, an unknown stream) becomes `StateDamagedError`.

    Such a value was not written by rgsync, so nothing built on it can be trusted.
    """

    def decorate(read: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(read)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return read(*args, **kwargs)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                detail = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
                raise damaged(
                    None, f"a row of its {table} table holds a value rgsync cannot read ({detail})"
                ) from exc

        return wrapper

    return decorate


def _naming_the_file(method: Callable[..., R]) -> Callable[..., R]:
    @functools.wraps(method)
    def wrapper(self: Database, *args: Any, **kwargs: Any) -> R:
        try:
            return method(self, *args, **kwargs)
        except StateDamagedError as exc:
            raise exc.at(self.path) from exc

    return wrapper


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Rows are turned into records outside the query helpers, so a damaged value is found
        # without knowing the file; every public method names it on the way out.
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(member):
                setattr(cls, name, _naming_the_file(member))

    # ------------------------------------------------------------------ opening

    @classmethod
    def _connect(cls, path: Path) -> sqlite3.Connection:
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
                # SQLite rolls the whole transaction back by itself on SQLITE_FULL or an I/O
                # error; the savepoint is then gone, and the error to report is the original one.
                if self._conn.in_transaction:
                    self._conn.execute(f"ROLLBACK TO {name}")
                    self._conn.execute(f"RELEASE {name}")
                raise
            else:
                self._conn.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1

    # ------------------------------------------------------------------ helpers

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._sqlite_errors():
            return self._conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._sqlite_errors():
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self.transaction(), self._sqlite_errors():
            return self._conn.execute(sql, params)

    @contextlib.contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
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
            if "locked" in str(exc) or "busy" in str(exc):
                raise StateStoreError(
                    f"the state database {self.path} is busy ({exc}); another rgsync process is writing "
                    "to it, try again in a moment"
                ) from exc
            raise damaged(self.path, str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, str(exc)) from exc
        except UnicodeDecodeError as exc:
            raise damaged(self.path, NOT_UTF8) from exc
        except StateDamagedError as exc:
            raise exc.at(self.path) from exc

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        return schema_version_of(self._conn)


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


def schema_version_of(connection: sqlite3.Connection) -> int:
    """The database's schema version: 0 for an empty file; `StateDamagedError` when unreadable."""
    tables = connection.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    has_meta = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        if tables:
            raise damaged(None, "it has tables but no meta table, so its schema version is unknown")
        return 0
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (SCHEMA_VERSION_KEY,)).fetchone()
    if row is None:
        raise damaged(None, "its meta table has no schema_version")
    try:
        version = json.loads(row[0])
    except (TypeError, ValueError):
        version = None
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise damaged(None, f"its schema_version is {str(row[0])[:40]!r}, not a version number")
    return version


@functools.lru_cache(maxsize=8)
def expected_tables(migrations: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """The tables and columns a database has after `migrations`, found by applying them to an empty one."""
    scratch = sqlite3.connect(":memory:")
    try:
        for script in migrations:
            for statement in _statements(script):
                scratch.execute(statement)
        names = [
            row[0]
            for row in scratch.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: frozenset(col[1] for col in scratch.execute(f"PRAGMA table_info('{name}')"))
            for name in names
        }
    finally:
        scratch.close()


def missing_schema(connection: sqlite3.Connection, migrations: Sequence[str]) -> list[str]:
    """What the database lacks of the schema `migrations` build: 'table links', 'column links.origin'."""
    missing: list[str] = []
    for table, columns in sorted(expected_tables(tuple(migrations)).items()):
        found = {row[1] for row in connection.execute("SELECT * FROM pragma_table_info(?)", (table,))}
        if not found:
            missing.append(f"table {table}")
            continue
        missing.extend(f"column {table}.{column}" for column in sorted(columns - found))
    return missing


def _verify_schema(connection: sqlite3.Connection, migrations: Sequence[str]) -> None:
    # A table or column lost (by hand, or by a tool) would make every later query fail half-way
    # through a session; finding it at open stops the session before it touches either side.
    missing = missing_schema(connection, migrations[: schema_version_of(connection)])
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise damaged(None, f"it lacks {shown}")


def _backup(connection: sqlite3.Connection, path: Path, version: int) -> None:
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


def _migrate(connection: sqlite3.Connection, path: Path, migrations: Sequence[str] | None = None) -> None:
    """Apply every migration newer than the database, each in its own transaction.

    `migrations` defaults to the module's `MIGRATIONS` (looked up at call time so tests can add one).
    """
    migrations = MIGRATIONS if migrations is None else migrations
    known = len(migrations)
    version = schema_version_of(connection)
    if version > known:
        raise StateStoreError(
            f"the state database {path} was written by a newer rgsync (schema {version}, this "
            f"version knows {known}); upgrade rgsync"
        )
    if 0 < version < known:
        try:
            _backup(connection, path, version)
        except OSError as exc:
            raise StateStoreError(
                f"cannot keep a copy of the state database {path} before upgrading it "
                f"({exc.strerror or exc}); free some space or check the folder's permissions"
            ) from exc
    # An up-to-date database is opened without taking the write lock, so `rgsync status` can read
    # while a run writes.
    for number in range(version + 1, known + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Read the version again under the write lock: another process may have migrated meanwhile.
            if schema_version_of(connection) < number:
                try:
                    for statement in _statements(migrations[number - 1]):
                        connection.execute(statement)
                except sqlite3.OperationalError as exc:
                    if "locked" in str(exc) or "busy" in str(exc):
                        raise
                    kept = f"; the copy kept before it is {backup_path(path, version)}" if version else ""
                    raise StateStoreError(
                        f"the state database {path} cannot be used: upgrading it to schema {number} "
                        f"failed ({exc}), so it stays at schema {number - 1}{kept}; "
                        "run `rgsync state check`"
                    ) from exc
                connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (SCHEMA_VERSION_KEY, dump_json(number)),
                )
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    _verify_schema(connection, migrations)
