"""`rgsync state check`: is the state database sound, and if not, what to do about it.

The check never changes the database: it opens it without migrating, asks SQLite for an
integrity check, compares the tables with the schema its version should have, and reads every
row back the way a session would. Each problem becomes a `Finding`; the report names one fix for
all of them: restore the copy kept before the last upgrade when there is one, else move the file
aside so the next run starts with a fresh state.
"""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rgsync.model import IssueSource, Severity, Side, Stream
from rgsync.state.db import (
    NOT_UTF8,
    backups,
    current_migrations,
    from_text,
    missing_schema,
    schema_version_of,
)
from rgsync.state.records import StateDamagedError

# Enough examples to show what is wrong without flooding a terminal.
_EXAMPLES_PER_TABLE = 3


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the state database, in words a user can act on."""

    what: str


@dataclass(frozen=True)
class StateReport:
    """What `check_state` found: the database, its schema version, the problems and the fix."""

    path: Path
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


def check_state(path: Path) -> StateReport:
    """Check the state database at `path` without changing it; see `StateReport`."""
    path = Path(path)
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
        version, findings, counts = _inspect(connection)
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


def _inspect(connection: sqlite3.Connection) -> tuple[int | None, list[Finding], dict[str, int]]:
    findings: list[Finding] = []
    counts: dict[str, int] = {}
    try:
        result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        return None, [Finding(f"SQLite cannot read it ({exc})")], counts
    if result != ["ok"]:
        shown = "; ".join(str(line) for line in result[:3])
        findings.append(Finding(f"SQLite's integrity check failed ({shown})"))
        return None, findings, counts
    version = _version(connection, findings)
    if version is None:
        return None, findings, counts
    migrations = current_migrations()
    if version > len(migrations):
        findings.append(
            Finding(f"it was written by a newer rgsync (schema {version}, this one knows {len(migrations)})")
        )
        return version, findings, counts
    missing = missing_schema(connection, migrations[:version])
    findings.extend(Finding(f"it lacks the {item}") for item in missing)
    lacking = {item.split()[1].split(".")[0] for item in missing}
    findings.extend(row_findings(connection, counts, skip=lacking))
    return version, findings, counts


def row_findings(
    connection: sqlite3.Connection, counts: dict[str, int] | None = None, *, skip: set[str] | None = None
) -> list[Finding]:
    """Read every row of every table back as a session would; one finding per table with bad rows.

    `counts` (when given) receives the number of rows per table; tables in `skip` are left out.
    """
    findings: list[Finding] = []
    for table, read in _ROW_READERS.items():
        if table in (skip or set()) or not _has_table(connection, table):
            continue
        bad, total = 0, 0
        examples: list[str] = []
        try:
            for row_id, problem in _problems(connection, table, read):
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


def _version(connection: sqlite3.Connection, findings: list[Finding]) -> int | None:
    try:
        return schema_version_of(connection)
    except StateDamagedError as exc:
        findings.append(Finding(exc.what))
        return None


def _has_table(connection: sqlite3.Connection, table: str) -> bool:
    return (
        connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        is not None
    )


def _problems(
    connection: sqlite3.Connection, table: str, read: Callable[[sqlite3.Row], None]
) -> Iterator[tuple[object, str]]:
    connection.row_factory = sqlite3.Row
    for row in connection.execute(f"SELECT rowid AS _rowid, * FROM {table}"):  # names from _ROW_READERS only
        try:
            read(row)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            yield row["_rowid"], (str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__)
        else:
            yield row["_rowid"], ""


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


def _read_meta(row: sqlite3.Row) -> None:
    _json(row["value"])


def _read_link(row: sqlite3.Row) -> None:
    Stream(row["stream"])
    Side(row["origin"])
    _json(row["fields"], dict)


def _read_cursor(row: sqlite3.Row) -> None:
    Stream(row["stream"])
    Side(row["side"])
    _date(row["updated_at"])


def _read_intent(row: sqlite3.Row) -> None:
    Stream(row["stream"])
    Side(row["side"])
    _json(row["payload"])
    _date(row["created_at"])


def _read_thread(row: sqlite3.Row) -> None:
    _json(row["who_ids"], list)


def _read_session(row: sqlite3.Row) -> None:
    _date(row["started_at"])
    _date(row["ended_at"], optional=True)
    _json(row["summary"], dict)


def _read_issue(row: sqlite3.Row) -> None:
    Severity(row["severity"])
    IssueSource(row["source"])
    if row["stream"]:
        Stream(row["stream"])
    _date(row["first_seen"])
    _date(row["last_seen"])
    _date(row["resolved_at"], optional=True)


_ROW_READERS: dict[str, Callable[[sqlite3.Row], None]] = {
    "meta": _read_meta,
    "links": _read_link,
    "cursors": _read_cursor,
    "journal": _read_intent,
    "threads": _read_thread,
    "sessions": _read_session,
    "issues": _read_issue,
}
