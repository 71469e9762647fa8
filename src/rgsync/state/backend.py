"""The interface between the state store and the database engine that keeps it.

`StateStore` (links, cursors, journal, sessions, issues) is written once, in SQL both engines
understand: `?` placeholders, plain SELECT/INSERT/UPDATE/DELETE. What differs between engines is
behind `StateBackend`: connecting, the dialect of the numbered migrations, how a row replaces the
rows it collides with, how a new row's id comes back, how writers are serialised, and how the
driver's errors become the store's one-line errors. Two implementations:

* `SqliteBackend` (`state/sqlite_backend.py`): one file per profile, the embedded default.
* `PostgresBackend` (`state/postgres.py`): one schema per profile in a shared database.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol


class Row(Protocol):
    """A result row: by column name or by position, as `sqlite3.Row` offers both."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    """What a statement hands back: its rows and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class StateBackend(abc.ABC):
    """One open connection to one profile's state, in one engine's dialect.

    Not thread-safe, like the store above it. Transactions are driven by the store through
    `begin`/`commit`/`rollback` and savepoints; every other statement goes through `execute`
    inside `errors()`, which turns the driver's failures into `StateStoreError` and its
    subclasses (constraint violations excepted: callers read them as answers).
    """

    #: "sqlite" or "postgresql": which dialect of a migration `dialect_script` picks.
    dialect: str = ""

    #: True when `execute`, `insert_returning_id`, `replace` and each multi-row call are one
    #: statement whose failure undoes only its own changes and leaves the open transaction usable
    #: (SQLite). The store then needs no savepoint around one of them inside a transaction.
    atomic_statements: bool = False

    #: The most parameters one statement may bind; multi-row statements are cut to fit.
    max_params: int = 999

    @property
    @abc.abstractmethod
    def location(self) -> Path | str:
        """Where the state lives, as named in messages: the file, or the database and schema."""

    @property
    @abc.abstractmethod
    def connection(self) -> Any:
        """The driver's connection (for engine-specific tests and checks)."""

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement written with `?` placeholders; rows come back as `Row`."""

    @abc.abstractmethod
    def insert_returning_id(self, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT into a table with an `id` key and return the new row's id."""

    @abc.abstractmethod
    def replace(self, table: str, values: Mapping[str, Any], unique: Sequence[Sequence[str]]) -> None:
        """Insert a row, first removing every row that collides with it on any of the `unique`
        column sets (SQLite's INSERT OR REPLACE). Call inside a transaction."""

    @abc.abstractmethod
    def insert_many_returning_ids(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int]:
        """Insert `rows` into a table with an `id` key in one statement; their new ids, in the
        order of `rows`. Call inside a transaction, with few enough rows for `max_params`."""

    @abc.abstractmethod
    def replace_many(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        unique: Sequence[Sequence[str]],
    ) -> None:
        """`replace` for many rows at once, with the same outcome as replacing them one after the
        other (a later row removes an earlier one it collides with). Call inside a transaction,
        with few enough rows for `max_params`."""

    @abc.abstractmethod
    def begin(self) -> None:
        """Open a write transaction. Writers of one profile's state are serialised: a second
        writer waits for the first (up to a timeout) instead of failing half-way."""

    @abc.abstractmethod
    def commit(self) -> None:
        """Commit the open transaction."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Roll the open transaction back; nothing happens when the connection is already gone."""

    def savepoint(self, name: str) -> None:
        """Open a nested transaction."""
        self.execute(f"SAVEPOINT {name}")

    def rollback_to(self, name: str) -> None:
        """Undo a nested transaction's changes and end it."""
        self.execute(f"ROLLBACK TO SAVEPOINT {name}")
        self.execute(f"RELEASE SAVEPOINT {name}")

    def release(self, name: str) -> None:
        """End a nested transaction, keeping its changes."""
        self.execute(f"RELEASE SAVEPOINT {name}")

    @property
    @abc.abstractmethod
    def in_transaction(self) -> bool:
        """True while a transaction is open (the engine may have ended one by itself on an error)."""

    @abc.abstractmethod
    def errors(self) -> contextlib.AbstractContextManager[None]:
        """Turn the driver's errors raised inside the block into the store's one-line errors."""

    @abc.abstractmethod
    def tables(self) -> set[str]:
        """The names of the tables the profile's state holds."""

    @abc.abstractmethod
    def columns(self, table: str) -> set[str]:
        """The column names of one table (empty when there is no such table)."""

    def tables_columns(self, tables: Iterable[str]) -> dict[str, set[str]]:
        """The column names of each of `tables` (an empty set for a table that is missing).

        Asked at every open, so an engine where each question is a round trip answers all at once.
        """
        return {table: self.columns(table) for table in tables}

    @abc.abstractmethod
    def row_ids(self, table: str) -> Iterator[tuple[object, Row]]:
        """Every row of `table` with an id to name it by in `rgsync state check`."""

    @abc.abstractmethod
    def dialect_script(self, number: int, script: str) -> str:
        """Migration `number` as this engine runs it (`script` is the SQLite text)."""

    @abc.abstractmethod
    def begin_migration(self) -> None:
        """Open the transaction one migration runs in, excluding every other process that could
        migrate the same state at the same time."""

    def keep_copy(self, version: int) -> Path | None:
        """Keep a copy of the state before migrating it from `version`; the copy's path, if any.

        Engines whose schema changes are transactional (PostgreSQL) need none: a failed
        migration leaves nothing behind.
        """
        del version
        return None

    @abc.abstractmethod
    def migration_failure(self, exc: BaseException) -> bool:
        """True when `exc`, raised by a migration's statement, means the migration itself is
        wrong (report it and stay at the previous version) rather than a busy or lost engine."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection."""
