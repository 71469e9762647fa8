"""The roster an admin imports with `rgsync fleet import roster.csv`: one row per user.

Columns (a header row names them; order is free):

* `name` (required): the user's name in the fleet, a simple name (letters, digits, '-', '_', '.');
* `mailbox` (required): gmail, exchange or microsoft365;
* `address` (required): the mailbox address;
* `salesforce_username` (required): the user's Salesforce username;
* `settings` (optional): a settings file whose values become the user's own layer;
* `credentials` (optional): a credentials file (as `rgsync connect` writes it) to copy into the
  fleet home of this machine;
* any other column whose header is a settings key (`interval-minutes`, `auto-save-threads`, …):
  a per-user override of that key; an empty cell means no override.

A bad row is refused with its line number and what to fix; nothing is imported from a roster with
a bad row.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from rgsync.errors import UsageError

REQUIRED = ("name", "mailbox", "address", "salesforce_username")
OPTIONAL = ("settings", "credentials")
MAILBOX_KINDS = ("gmail", "exchange", "microsoft365")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RosterError(UsageError):
    """A roster that cannot be imported: names the file, the line and the fix."""


@dataclass(frozen=True)
class RosterRow:
    """One user of the roster."""

    name: str
    mailbox: str
    address: str
    salesforce_username: str
    settings_file: Path | None = None
    credentials_file: Path | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    line: int = 0  # where the row is in the roster, for messages about it

    def where(self, roster: Path) -> str:
        """`roster FILE line N`, the start of a message about this row."""
        return f"roster {roster} line {self.line}"


def check_user_name(name: str) -> str:
    """Return `name` when it is a valid fleet user name; `UsageError` naming the rule otherwise."""
    if not _NAME.match(name):
        raise UsageError(
            f"user name {name!r} is not a simple name; use letters, digits, '.', '-' and '_' (at most 63)"
        )
    return name


def read_roster(path: Path, *, known_keys: frozenset[str] = frozenset()) -> list[RosterRow]:
    """Read and check the whole roster at `path`; relative file paths are taken from its folder.

    `known_keys` are the settings keys an extra column may name (empty: no override columns).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"roster {path} does not exist; give the path of a CSV file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"roster {path} cannot be read ({exc}); save it as UTF-8 CSV") from None
    reader = csv.DictReader(text.splitlines())
    headers = [h.strip() for h in (reader.fieldnames or [])]
    missing = [h for h in REQUIRED if h not in headers]
    if missing:
        raise RosterError(
            f"roster {path} line 1: missing column(s) {', '.join(missing)}; "
            f"the header must name {', '.join(REQUIRED)}"
        )
    extra = [h for h in headers if h not in REQUIRED and h not in OPTIONAL]
    unknown = [h for h in extra if h not in known_keys]
    if unknown:
        raise RosterError(
            f"roster {path} line 1: column {unknown[0]!r} is neither a roster column nor a settings key; "
            f"rename or remove it"
        )
    rows: list[RosterRow] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        cells = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(cells.values()):
            continue
        where = f"roster {path} line {number}"
        for column in REQUIRED:
            if not cells.get(column):
                raise RosterError(f"{where}: {column} is empty; fill it in")
        name = cells["name"]
        try:
            check_user_name(name)
        except UsageError as exc:
            raise RosterError(f"{where}: {exc}") from None
        if name in seen:
            raise RosterError(
                f"{where}: user {name!r} is already on line {seen[name]}; keep one row per user"
            )
        seen[name] = number
        mailbox = cells["mailbox"].lower()
        if mailbox not in MAILBOX_KINDS:
            raise RosterError(
                f"{where}: mailbox {cells['mailbox']!r} is unknown; use one of {', '.join(MAILBOX_KINDS)}"
            )
        for column in ("address", "salesforce_username"):
            if not _ADDRESS.match(cells[column]):
                raise RosterError(f"{where}: {column} {cells[column]!r} is not an address like ann@acme.com")
        files: dict[str, Path | None] = {}
        for column in OPTIONAL:
            value = cells.get(column, "")
            if not value:
                files[column] = None
                continue
            file = Path(value).expanduser()
            file = file if file.is_absolute() else path.parent / file
            if not file.is_file():
                raise RosterError(
                    f"{where}: {column} file {file} does not exist; fix the path or leave it empty"
                )
            files[column] = file
        overrides = {key: cells[key] for key in extra if cells.get(key)}
        rows.append(
            RosterRow(
                name=name,
                mailbox=mailbox,
                address=cells["address"],
                salesforce_username=cells["salesforce_username"],
                settings_file=files["settings"],
                credentials_file=files["credentials"],
                overrides=overrides,
                line=number,
            )
        )
    if not rows:
        raise RosterError(f"roster {path} has no users; add one row per user under the header")
    return rows
