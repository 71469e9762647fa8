"""The state store's engine-neutral core: transactions, migrations, timestamps, JSON, damage.

`Database` drives a `StateBackend` (SQLite file or PostgreSQL schema, see `state/backend.py`).
Every change goes through `transaction()`, so a crash never leaves half of a logical change
behind. Migrations are numbered (`schema.MIGRATIONS`); each backend runs them in its dialect,
each in one transaction together with the version bump.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar

from rgsync.model import utc
from rgsync.state.records import StateDamagedError, StateStoreError
from rgsync.state.schema import MIGRATIONS

if TYPE_CHECKING:
    from rgsync.state.backend import Cursor, Row, StateBackend

P = ParamSpec("P")
R = TypeVar("R")

SCHEMA_VERSION_KEY = "schema_version"
NOT_UTF8 = "it holds text that is not UTF-8"


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


# One encoder for every value stored: `json.dumps` with options builds a new one per call, and a
# session stores a few values per email.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dump_json(value: object) -> str:
    """JSON as stored: compact, keys in the order given, non-ASCII kept readable."""
    return _ENCODER.encode(value)


def damaged(path: Path | str | None, what: str) -> StateDamagedError:
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


def statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (comments and quoted ';' are handled by SQLite's
    tokenizer, which is enough for the plain DDL both dialects share)."""
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
    """An open state database: one backend connection, explicit (nestable) transactions.

    Not thread-safe: one store per thread, as one `rgsync` process has one session.
    """

    def __init__(self, backend: StateBackend) -> None:
        self._backend = backend
        # The driver's connection, for engine-specific checks in tests.
        self._conn: Any = backend.connection
        self._depth = 0
        self.path: Path | str = backend.location

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Rows are turned into records outside the query helpers, so a damaged value is found
        # without knowing the file; every public method names it on the way out.
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(member):
                setattr(cls, name, _naming_the_file(member))

    @property
    def backend(self) -> StateBackend:
        """The engine under the store (SQLite or PostgreSQL)."""
        return self._backend

    def close(self) -> None:
        """Close the connection. Using the store afterwards is an error."""
        self._backend.close()

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
        backend = self._backend
        if self._depth == 0:
            with backend.errors():
                backend.begin()
            self._depth = 1
            try:
                yield
                with backend.errors():
                    backend.commit()
            except BaseException:
                if backend.in_transaction:
                    with backend.errors():
                        backend.rollback()
                raise
            finally:
                self._depth = 0
        else:
            name = f"nested_{self._depth}"
            with backend.errors():
                backend.savepoint(name)
            self._depth += 1
            try:
                yield
            except BaseException:
                with backend.errors():
                    backend.rollback_to(name)
                raise
            else:
                with backend.errors():
                    backend.release(name)
            finally:
                self._depth -= 1

    # ------------------------------------------------------------------ helpers

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        with self._errors():
            return self._backend.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Row | None:
        with self._errors():
            row: Row | None = self._backend.execute(sql, params).fetchone()
        return row

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor:
        """One statement inside the caller's transaction."""
        with self._errors():
            return self._backend.execute(sql, params)

    def _statement(self) -> contextlib.AbstractContextManager[None]:
        """The transaction one write statement needs: its own when none is open; inside the
        caller's, a savepoint, except on an engine where a failed statement already undoes
        exactly its own changes (two more statements per write saved, SPEC §10)."""
        if self._depth > 0 and self._backend.atomic_statements:
            return contextlib.nullcontext()
        return self.transaction()

    def _statements(self, several: bool) -> contextlib.AbstractContextManager[None]:
        """`_statement`, or a transaction (savepoint) of its own when the write takes `several`."""
        return self.transaction() if several else self._statement()

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor:
        with self._statement(), self._errors():
            return self._backend.execute(sql, params)

    def _insert(self, sql: str, params: tuple[Any, ...]) -> int:
        """An INSERT into a table keyed by `id`; the new row's id."""
        with self._statement(), self._errors():
            return self._backend.insert_returning_id(sql, params)

    def _replace(self, table: str, values: Mapping[str, Any], *unique: tuple[str, ...]) -> None:
        """Insert a row, replacing the rows it collides with on any of the `unique` column sets."""
        with self._statement(), self._errors():
            self._backend.replace(table, values, unique)

    def _rows_per_statement(self, columns: int) -> int:
        """How many rows of `columns` values one multi-row statement carries: as many as the
        engine's parameter limit allows, up to 500 (a larger statement saves nothing more)."""
        return max(1, min(500, self._backend.max_params // max(1, columns)))

    def _insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
        """INSERT many rows into a table keyed by `id`, a few statements in all; their ids in order."""
        if not rows:
            return []  # not even an empty transaction
        ids: list[int] = []
        step = self._rows_per_statement(len(columns))
        with self._statements(len(rows) > step), self._errors():
            for start in range(0, len(rows), step):
                ids += self._backend.insert_many_returning_ids(table, columns, rows[start : start + step])
        return ids

    def _replace_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *unique: tuple[str, ...]
    ) -> None:
        """`_replace` for many rows, with the outcome of replacing them one after the other."""
        if not rows:
            return
        # PostgreSQL's DELETE binds each unique key's columns once per row as well.
        per_row = len(columns) + sum(len(key) for key in unique)
        step = self._rows_per_statement(per_row)
        with self._statements(len(rows) > step), self._errors():
            for start in range(0, len(rows), step):
                self._backend.replace_many(table, columns, rows[start : start + step], unique)

    def _errors(self) -> contextlib.AbstractContextManager[None]:
        """A missing table, a damaged page, a lost connection: one line, never a traceback."""
        return self._backend.errors()

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        return schema_version_of(self._backend)


def schema_version_of(backend: StateBackend) -> int:
    """The database's schema version: 0 for an empty one; `StateDamagedError` when unreadable."""
    tables = backend.tables()
    if "meta" not in tables:
        if tables:
            raise damaged(None, "it has tables but no meta table, so its schema version is unknown")
        return 0
    row = backend.execute("SELECT value FROM meta WHERE key = ?", (SCHEMA_VERSION_KEY,)).fetchone()
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
    """The tables and columns a database has after `migrations`, found by applying them to an empty
    SQLite database (the column names are the same in every dialect)."""
    scratch = sqlite3.connect(":memory:")
    try:
        for script in migrations:
            for statement in statements(script):
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


def missing_schema(backend: StateBackend, migrations: Sequence[str]) -> list[str]:
    """What the database lacks of the schema `migrations` build: 'table links', 'column links.origin'."""
    missing: list[str] = []
    expected = expected_tables(tuple(migrations))
    present = backend.tables_columns(sorted(expected))
    for table, columns in sorted(expected.items()):
        found = present[table]
        if not found:
            missing.append(f"table {table}")
            continue
        missing.extend(f"column {table}.{column}" for column in sorted(columns - found))
    return missing


def _verify_schema(backend: StateBackend, migrations: Sequence[str]) -> None:
    # A table or column lost (by hand, or by a tool) would make every later query fail half-way
    # through a session; finding it at open stops the session before it touches either side.
    missing = missing_schema(backend, migrations[: schema_version_of(backend)])
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise damaged(None, f"it lacks {shown}")


def migrate(backend: StateBackend, migrations: Sequence[str] | None = None) -> None:
    """Apply every migration newer than the database, each in its own transaction.

    `migrations` defaults to the module's `MIGRATIONS` (looked up at call time so tests can add one).
    """
    migrations = MIGRATIONS if migrations is None else migrations
    where = backend.location
    known = len(migrations)
    version = schema_version_of(backend)
    if version > known:
        raise StateStoreError(
            f"the state database {where} was written by a newer rgsync (schema {version}, this "
            f"version knows {known}); upgrade rgsync"
        )
    copy = backend.keep_copy(version) if 0 < version < known else None
    # An up-to-date database is opened without taking the write lock, so `rgsync status` can read
    # while a run writes.
    for number in range(version + 1, known + 1):
        backend.begin_migration()
        try:
            # Read the version again under the lock: another process may have migrated meanwhile.
            if schema_version_of(backend) < number:
                try:
                    for statement in statements(backend.dialect_script(number, migrations[number - 1])):
                        backend.execute(statement)
                except Exception as exc:
                    if not backend.migration_failure(exc):
                        raise
                    kept = f"; the copy kept before it is {copy}" if copy else ""
                    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    raise StateStoreError(
                        f"the state database {where} cannot be used: upgrading it to schema {number} "
                        f"failed ({detail}), so it stays at schema {number - 1}{kept}; "
                        "run `rgsync state check`"
                    ) from exc
                backend.replace("meta", {"key": SCHEMA_VERSION_KEY, "value": dump_json(number)}, (("key",),))
            backend.commit()
        except BaseException:
            if backend.in_transaction:
                backend.rollback()
            raise
    _verify_schema(backend, migrations)
