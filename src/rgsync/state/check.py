"""`rgsync state check`: is the state database sound, and if not, what to do about it.

The check never changes the database: it opens it without migrating, asks SQLite for an
integrity check (a SQLite file), compares the tables with the schema its version should have, and
reads every row back the way a session would. Each problem becomes a `Finding`; the report names
one fix for all of them: restore the copy kept before the last upgrade when there is one, else move
the file aside (drop the profile's schema, in PostgreSQL) so the next run starts with a fresh state.
"""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rgsync.model import IssueSource, Severity, Side, Stream
from rgsync.state.backend import Row, StateBackend
from rgsync.state.db import (
    NOT_UTF8,
    backups,
    current_migrations,
    from_text,
    missing_schema,
    schema_version_of,
)
from rgsync.state.location import PostgresLocation, StateLocation
from rgsync.state.records import StateDamagedError, StateStoreError

# Enough examples to show what is wrong without flooding a terminal.
_EXAMPLES_PER_TABLE = 3


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the state database, in words a user can act on."""

    what: str


@dataclass(frozen=True)
class StateReport:
    """What `check_state` found: the database, its schema version, the problems and the fix."""

    path: Path | PostgresLocation
    exists: bool
    schema_version: int | None = None
    findings: tuple[Finding, ...] = ()
    backups: tuple[Path, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def sound(self) -> bool:
        """True when a session can trust the database (or there is none yet)."""
        return not self.findings

    @property
    def fix(self) -> str:
        """The one thing to do about the findings (empty when sound)."""
        if self.sound:
            return ""
        if isinstance(self.path, PostgresLocation):
            schema = self.path.schema
            return (
                f'restore the schema "{schema}" from your PostgreSQL backup, or drop it: '
                f'`DROP SCHEMA "{schema}" CASCADE`; the next run starts with a fresh state, lists both '
                "sides again as on a first run and links what it saved before by Message-ID and the "
                "other natural keys"
            )
        if self.backups:
            newest = self.backups[0]
            return (
                f"restore the copy kept before the last upgrade: `mv {newest} {self.path}` "
                "(what rgsync recorded since then is forgotten; the next run lists both sides again and "
                "links what it saved before by Message-ID and the other natural keys)"
            )
        return (
            f"move the database aside: `mv {self.path} {self.path}.damaged`; the next run starts with a "
            "fresh state, lists both sides again as on a first run and links what it saved before by "
            "Message-ID and the other natural keys"
        )


def check_state(where: Path | StateLocation) -> StateReport:
    """Check a profile's state without changing it; see `StateReport`."""
    if isinstance(where, PostgresLocation):
        return _check_postgres(where)
    path = Path(where)
    kept = tuple(backups(path)) if path.parent.is_dir() else ()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return StateReport(path=path, exists=False, backups=kept)
    except OSError as exc:
        return StateReport(
            path=path,
            exists=True,
            findings=(Finding(f"it cannot be read: {exc.strerror or exc}"),),
            backups=kept,
        )
    if not stat.S_ISREG(mode):
        return StateReport(
            path=path, exists=True, findings=(Finding("it is not a regular file"),), backups=kept
        )
    try:
        connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return StateReport(
            path=path, exists=True, findings=(Finding(f"SQLite cannot open it ({exc})"),), backups=kept
        )
    try:
        version, findings, counts = _inspect_sqlite(connection, path)
    except UnicodeDecodeError:
        version, findings, counts = None, [Finding(NOT_UTF8)], {}
    except sqlite3.DatabaseError as exc:
        version, findings, counts = None, [Finding(f"SQLite cannot read it ({exc})")], {}
    finally:
        connection.close()
    return StateReport(
        path=path,
        exists=True,
        schema_version=version,
        findings=tuple(findings),
        backups=kept,
        counts=counts,
    )


def _check_postgres(location: PostgresLocation) -> StateReport:
    # Imported here: psycopg is loaded only by those who keep their state in PostgreSQL.
    from rgsync.state.postgres import PostgresBackend, connect

    backend = PostgresBackend(connect(location, "check"), location)
    try:
        if not backend.schema_exists():
            return StateReport(path=location, exists=False)
        try:
            with backend.errors():
                version, findings, counts = _inspect(backend, [])
        except StateStoreError as exc:
            version, findings, counts = None, [Finding(exc.message)], {}
    finally:
        backend.close()
    return StateReport(
        path=location, exists=True, schema_version=version, findings=tuple(findings), counts=counts
    )


def _inspect_sqlite(
    connection: sqlite3.Connection, path: Path
) -> tuple[int | None, list[Finding], dict[str, int]]:
    from rgsync.state.sqlite_backend import SqliteBackend

    findings: list[Finding] = []
    try:
        result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        return None, [Finding(f"SQLite cannot read it ({exc})")], {}
    if result != ["ok"]:
        shown = "; ".join(str(line) for line in result[:3])
        findings.append(Finding(f"SQLite's integrity check failed ({shown})"))
        return None, findings, {}
    connection.row_factory = sqlite3.Row
    return _inspect(SqliteBackend(connection, path), findings)


def _inspect(
    backend: StateBackend, findings: list[Finding]
) -> tuple[int | None, list[Finding], dict[str, int]]:
    counts: dict[str, int] = {}
    version = _version(backend, findings)
    if version is None:
        return None, findings, counts
    migrations = current_migrations()
    if version > len(migrations):
        findings.append(
            Finding(f"it was written by a newer rgsync (schema {version}, this one knows {len(migrations)})")
        )
        return version, findings, counts
    missing = missing_schema(backend, migrations[:version])
    findings.extend(Finding(f"it lacks the {item}") for item in missing)
    lacking = {item.split()[1].split(".")[0] for item in missing}
    findings.extend(row_findings(backend, counts, skip=lacking))
    return version, findings, counts


def row_findings(
    backend: StateBackend, counts: dict[str, int] | None = None, *, skip: set[str] | None = None
) -> list[Finding]:
    """Read every row of every table back as a session would; one finding per table with bad rows.

    `counts` (when given) receives the number of rows per table; tables in `skip` are left out.
    """
    findings: list[Finding] = []
    present = backend.tables()
    for table, read in _ROW_READERS.items():
        if table in (skip or set()) or table not in present:
            continue
        bad, total = 0, 0
        examples: list[str] = []
        try:
            for row_id, problem in _problems(backend, table, read):
                total += 1
                if problem:
                    bad += 1
                    if len(examples) < _EXAMPLES_PER_TABLE:
                        examples.append(f"row {row_id}: {problem}")
        except sqlite3.DatabaseError as exc:
            findings.append(Finding(f"its {table} table cannot be read ({exc})"))
            continue
        except UnicodeDecodeError:
            findings.append(Finding(f"its {table} table holds text that is not UTF-8"))
            continue
        if counts is not None:
            counts[table] = total
        if bad:
            findings.append(
                Finding(
                    f"{bad} row(s) of its {table} table hold values rgsync cannot read ({'; '.join(examples)})"
                )
            )
    return findings


def _version(backend: StateBackend, findings: list[Finding]) -> int | None:
    try:
        return schema_version_of(backend)
    except StateDamagedError as exc:
        findings.append(Finding(exc.what))
        return None


def _problems(backend: StateBackend, table: str, read: Callable[[Row], None]) -> Iterator[tuple[object, str]]:
    for row_id, row in backend.row_ids(table):  # names from _ROW_READERS only
        try:
            read(row)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            yield row_id, (str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__)
        else:
            yield row_id, ""


def _json(text: object, kind: type | None = None) -> object:
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not JSON text")
    value = json.loads(text)
    if kind is not None and not isinstance(value, kind):
        raise ValueError(f"{str(text)[:30]!r} is not a JSON {kind.__name__}")
    return value


def _date(text: object, *, optional: bool = False) -> None:
    if text is None and optional:
        return
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a date")
    from_text(text)


def _read_meta(row: Row) -> None:
    _json(row["value"])


def _read_link(row: Row) -> None:
    Stream(row["stream"])
    Side(row["origin"])
    _json(row["fields"], dict)


def _read_cursor(row: Row) -> None:
    Stream(row["stream"])
    Side(row["side"])
    _date(row["updated_at"])


def _read_intent(row: Row) -> None:
    Stream(row["stream"])
    Side(row["side"])
    _json(row["payload"])
    _date(row["created_at"])


def _read_thread(row: Row) -> None:
    _json(row["who_ids"], list)


def _read_session(row: Row) -> None:
    _date(row["started_at"])
    _date(row["ended_at"], optional=True)
    _json(row["summary"], dict)


def _read_issue(row: Row) -> None:
    Severity(row["severity"])
    IssueSource(row["source"])
    if row["stream"]:
        Stream(row["stream"])
    _date(row["first_seen"])
    _date(row["last_seen"])
    _date(row["resolved_at"], optional=True)


_ROW_READERS: dict[str, Callable[[Row], None]] = {
    "meta": _read_meta,
    "links": _read_link,
    "cursors": _read_cursor,
    "journal": _read_intent,
    "threads": _read_thread,
    "sessions": _read_session,
    "issues": _read_issue,
}
