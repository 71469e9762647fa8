"""Reading a scenario file: TOML with line numbers, located errors, and times relative to "now".

`tomllib` parses the file but forgets where each value was. `Positions` scans the text once and
remembers the line of every table header and key, so a problem found later (a bad date, an unknown
field, a dangling reference) is reported as `FILE line N: 'when' of the 3rd [[mailbox.emails]]: …`.

Times in a scenario may be written relative to the moment the sandbox starts, so the demo always
has fresh data: `now`, `today`, `-2h`, `+30m`, `-2d`, `+1w`, `-2d 10:00`, `today 09:30`. A date
with a clock time is read in the scenario user's time zone.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

PathKey = tuple[str | int, ...]


class ScenarioError(ValueError):
    """A scenario file problem: `message` names the file, the line and the field.

    The sandbox stands beside the product and knows nothing of its errors; the commands that read
    a scenario turn this into a usage error (exit 2), one line with no traceback.
    """

    exit_code = 2

    def __init__(
        self, message: str, *, file: Path | None = None, line: int | None = None, field: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = field


_ORDINAL_SUFFIX = {1: "st", 2: "nd", 3: "rd"}


def ordinal(n: int) -> str:
    """'1st', '2nd', '3rd', '4th', '11th', '22nd' …"""
    suffix = "th" if 10 <= n % 100 <= 20 else _ORDINAL_SUFFIX.get(n % 10, "th")
    return f"{n}{suffix}"


def describe_path(path: PathKey) -> str:
    """A field path in the file's own words: `'when' of the 3rd [[mailbox.emails]]`, `[user] address`.

    An integer in the path is the (0-based) index of an array-of-tables entry or of a list item.
    """
    table: list[str] = []
    entry: tuple[str, int] | None = None
    rest: list[str] = []
    for part in path:
        if isinstance(part, int):
            if entry is None and not rest:
                entry = (".".join(table), part)
            else:
                rest[-1:] = [f"{rest[-1]}[{part}]"] if rest else [f"[{part}]"]
            continue
        if entry is None:
            table.append(part)
        else:
            rest.append(part)
    if entry is not None:
        where = f"the {ordinal(entry[1] + 1)} [[{entry[0]}]]"
        return f"'{'.'.join(rest)}' of {where}" if rest else where
    if len(table) == 1:
        return f"'{table[0]}'"
    return f"'{table[-1]}' in [{'.'.join(table[:-1])}]"


_BARE_KEY = r"[A-Za-z0-9_-]+"
_QUOTED_KEY = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY_PART = rf"(?:{_BARE_KEY}|{_QUOTED_KEY})"
_DOTTED_KEY = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED_KEY})\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(rf"^\s*({_DOTTED_KEY})\s*=(.*)$")


def _key_parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(_KEY_PART, dotted)]


class Positions:
    """Where each table and key of a TOML text is, by path (array-of-tables entries by index).

    A light line scanner, not a parser: it understands table headers, `key = value` lines,
    multi-line strings and arrays spanning lines, which is all a scenario needs to point at a line.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[PathKey, int] = {}
        self._arrays: dict[tuple[str, ...], int] = {}
        self._scan(text)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of `path`, or of its closest enclosing table or key that the scan saw."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    def _resolve(self, parts: Sequence[str]) -> PathKey:
        """A header's dotted name as a path, with the current entry index of every array on it."""
        resolved: list[str | int] = []
        for n, part in enumerate(parts):
            resolved.append(part)
            prefix = tuple(parts[: n + 1])
            if prefix in self._arrays and n < len(parts) - 1:
                resolved.append(self._arrays[prefix] - 1)
        return tuple(resolved)

    def _scan(self, text: str) -> None:
        current: PathKey = ()
        closing: str | None = None  # the delimiter of a multi-line string we are inside
        depth = 0  # open brackets of a value that spans lines
        for number, line in enumerate(text.splitlines(), start=1):
            if closing is not None:
                if line.count(closing) % 2 == 1:
                    closing = None
                continue
            if depth > 0:
                depth += _bracket_balance(line)
                continue
            header = _HEADER.match(line)
            if header:
                parts = _key_parts(header.group(2))
                if header.group(1) == "[[":
                    name = tuple(parts)
                    self._arrays[name] = self._arrays.get(name, 0) + 1
                    current = (*self._resolve(parts), self._arrays[name] - 1)
                else:
                    current = self._resolve(parts)
                self.lines.setdefault(current, number)
                continue
            key_line = _KEY_LINE.match(line)
            if not key_line:
                continue
            path = (*current, *_key_parts(key_line.group(1)))
            self.lines.setdefault(path, number)
            value = key_line.group(2)
            for delimiter in ('"""', "'''"):
                if value.count(delimiter) % 2 == 1:
                    closing = delimiter
                    break
            else:
                depth = max(0, _bracket_balance(value))


def _bracket_balance(text: str) -> int:
    """Opened minus closed brackets/braces outside strings and comments."""
    balance = 0
    quote: str | None = None
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            balance += 1
        elif char in "]}":
            balance -= 1
    return balance


@dataclass
class Reader:
    """Reads values out of a parsed scenario, raising located `ScenarioError`s."""

    file: Path | None
    positions: Positions

    def fail(self, path: Sequence[str | int], problem: str) -> ScenarioError:
        """The error for a problem with the value at `path`."""
        line = self.positions.line_of(path)
        where = str(self.file) if self.file is not None else "scenario"
        prefix = f"{where} line {line}" if line else where
        field = describe_path(tuple(path)) if path else ""
        text = f"{prefix}: {field}: {problem}" if field else f"{prefix}: {problem}"
        return ScenarioError(text, file=self.file, line=line, field=field)

    def table(self, data: Mapping[str, Any], path: PathKey, allowed: Iterable[str]) -> None:
        """Refuse keys of `data` (the table at `path`) that are not in `allowed`, suggesting the closest."""
        known = list(allowed)
        for key in data:
            if key not in known:
                raise self.fail((*path, key), f"unknown field{did_you_mean(key, known)}")

    def text(self, data: Mapping[str, Any], path: PathKey, key: str, default: str | None = None) -> str:
        """A string field; missing → `default`, or an error when there is no default."""
        if key not in data:
            if default is None:
                raise self.fail(path, f"'{key}' is missing")
            return default
        value = data[key]
        if not isinstance(value, str):
            raise self.fail((*path, key), f"expected text in quotes, found {_kind(value)}")
        return value

    def flag(self, data: Mapping[str, Any], path: PathKey, key: str, default: bool = False) -> bool:
        """A true/false field."""
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail((*path, key), f"expected true or false, found {_kind(value)}")
        return value

    def number(self, data: Mapping[str, Any], path: PathKey, key: str, default: int) -> int:
        """A whole-number field (at least 0)."""
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail((*path, key), f"expected a whole number ≥ 0, found {_kind(value)}")
        return value

    def texts(self, data: Mapping[str, Any], path: PathKey, key: str) -> list[str]:
        """A list of strings; a single string is taken as a list of one."""
        value = data.get(key, [])
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail((*path, key), f"expected a list of texts, found {_kind(value)}")
        return list(value)

    def entries(self, data: Mapping[str, Any], path: PathKey, key: str) -> list[dict[str, Any]]:
        """An array of tables (`[[path.key]]`); missing → []."""
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail((*path, key), f"expected [[{'.'.join(str(p) for p in (*path, key))}]] tables")
        return value

    def section(self, data: Mapping[str, Any], path: PathKey, key: str) -> dict[str, Any]:
        """A table (`[path.key]`); missing → {}."""
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail((*path, key), f"expected a table, found {_kind(value)}")
        return value


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` — did you mean 'X'?` for the closest candidate (ignoring case), or a list of the valid ones."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if match:
        return f" — did you mean '{lowered[match[0]]}'?"
    if len(pool) <= 12:
        return f"; expected one of: {', '.join(pool)}"
    return ""


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


# --------------------------------------------------------------------------------------------
# Times relative to "now"

_RELATIVE = re.compile(
    r"^(?:(?P<base>now|today)\s*)?"
    r"(?:(?P<sign>[+-])\s*(?P<amount>\d+)\s*(?P<unit>[mhdw]))?"
    r"\s*(?:(?P<hour>\d{1,2}):(?P<minute>\d{2}))?$",
    re.IGNORECASE,
)
_DURATION = re.compile(
    r"^(?:(?P<days>\d+)\s*d)?\s*(?:(?P<hours>\d+)\s*h)?\s*(?:(?P<minutes>\d+)\s*m)?$", re.IGNORECASE
)
TIME_HELP = (
    'write e.g. "-2d 10:00", "+1d 09:00", "-3h", "today", "now" or an ISO date/time like 2026-11-28T10:00:00Z'
)


@dataclass(frozen=True)
class Clock:
    """'Now' for one scenario load, and the user's time zone for dates with a clock time."""

    now: datetime
    zone: ZoneInfo

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def at(self, day: date, clock_time: time) -> datetime:
        """`day` at `clock_time` in the user's zone, as an aware UTC datetime."""
        return datetime.combine(day, clock_time, tzinfo=self.zone).astimezone(UTC)


def parse_when(value: object, clock: Clock) -> date | datetime:
    """A scenario time: a date (whole day) or an aware UTC datetime. Raises ValueError with help.

    Accepted: TOML dates and date-times (a local date-time is in the user's zone), ISO text, and
    relative text: `now`, `today`, `±N(m|h)` (from now), `±N(d|w)` (a date), `±N(d|w) HH:MM` and
    `today HH:MM` / `HH:MM` (that day at that time in the user's zone).
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=clock.zone).astimezone(UTC)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a date or time, found {_kind(value)}; {TIME_HELP}")
    text = value.strip()
    match = _RELATIVE.match(text)
    if text and match:
        return _relative(match, clock, value)
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f'"{value}" is not a time; {TIME_HELP}') from None
    return parse_when(parsed, clock)


def _relative(match: re.Match[str], clock: Clock, original: str) -> date | datetime:
    base = (match["base"] or "").lower()
    unit = (match["unit"] or "").lower()
    amount = int(match["amount"] or 0) * (-1 if match["sign"] == "-" else 1)
    days = timedelta(days=amount * (7 if unit == "w" else 1)) if unit in ("d", "w") else timedelta(0)
    if match["hour"] is not None:
        if base == "now" or unit in ("m", "h"):
            raise ValueError(
                f'"{original}": a clock time goes with a day ("-2d 10:00"), not with hours; {TIME_HELP}'
            )
        return clock.at(clock.today + days, _clock_time(int(match["hour"]), int(match["minute"]), original))
    if unit in ("m", "h"):
        if base == "today":
            raise ValueError(
                f'"{original}": write "now{match["sign"]}{abs(amount)}{unit}" for a time from now; {TIME_HELP}'
            )
        return clock.now + (timedelta(minutes=amount) if unit == "m" else timedelta(hours=amount))
    if base == "now":
        return clock.now + days
    return clock.today + days


def _clock_time(hour: int, minute: int, original: str) -> time:
    if hour > 23 or minute > 59:
        raise ValueError(f'"{original}": {hour:02d}:{minute:02d} is not a clock time; {TIME_HELP}')
    return time(hour, minute)


def parse_duration(value: object) -> timedelta:
    """A length of time: `90m`, `1h`, `1h30m`, `3d`, or a number of minutes. Raises ValueError."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return timedelta(minutes=value)
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if value.strip() and match and any(match.groupdict().values()):
            length = timedelta(
                days=int(match["days"] or 0),
                hours=int(match["hours"] or 0),
                minutes=int(match["minutes"] or 0),
            )
            if length > timedelta(0):
                return length
    raise ValueError(f'expected a length of time like "45m", "1h", "1h30m" or "3d", found {_kind(value)}')


_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[A-Za-z0-9-]+")


def check_address(reader: Reader, at: PathKey, value: str) -> str:
    """Check that `value` is `Name <addr>` or `addr` (a located error otherwise); returns it as written."""
    parsed = getaddresses([value])
    if len(parsed) != 1 or not _ADDRESS.fullmatch(parsed[0][1]):
        raise reader.fail(
            at, f"'{value}' is not an email address (write bob@globex.com or \"Bob Baker <bob@globex.com>\")"
        )
    return value
