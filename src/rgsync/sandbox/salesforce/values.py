"""Field values between JSON and storage: `parse_value` reads a JSON value as a field of a given
type stores it (refusing what Salesforce can't read), `parse_datetime` reads ISO 8601 date-times,
and `to_json` / `format_datetime` write stored values the way Salesforce does.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .errors import RequestError
from .schema import NUMBER_TYPES

_TEXT = frozenset({"string", "textarea", "email", "url", "phone", "picklist", "combobox"})
_DATETIME_SHAPE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_value(kind: str, raw: Any, name: str = "") -> Any:
    """A JSON value converted to the Python value a field of type `kind` stores.

    Raises RequestError JSON_PARSER_ERROR as Salesforce does when a value can't be read.
    """
    if raw is None:
        return None
    try:
        if kind in _TEXT or kind in ("id", "reference"):
            if isinstance(raw, (bool, dict, list)):
                raise ValueError
            return str(raw) if not isinstance(raw, float) or not raw.is_integer() else str(int(raw))
        if kind == "boolean":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            raise ValueError
        if kind == "int":
            if isinstance(raw, bool):
                raise ValueError
            number = float(raw) if isinstance(raw, str) else raw
            if not isinstance(number, (int, float)) or not float(number).is_integer():
                raise ValueError
            return int(number)
        if kind in NUMBER_TYPES:
            if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
                raise ValueError
            return float(raw)
        if kind == "date":
            if not isinstance(raw, str):
                raise ValueError
            return date.fromisoformat(raw[:10]) if re.match(r"^\d{4}-\d{2}-\d{2}$", raw) else _bad()
        if kind == "datetime":
            if not isinstance(raw, str):
                raise ValueError
            return parse_datetime(raw)
        if kind == "junctionidlist":
            if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
                raise ValueError
            return list(raw)
    except ValueError:
        pass
    shown = raw if not isinstance(raw, str) else raw[:80]
    token = (
        "VALUE_STRING"
        if isinstance(raw, str)
        else "VALUE_NUMBER_INT"
        if isinstance(raw, int)
        else "START_OBJECT"
    )
    raise RequestError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from {token} value {shown} or request may be missing a required field",
        (name,) if name else (),
    )


def _bad() -> Any:
    raise ValueError


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 date-time as Salesforce accepts it (Z, ±hh:mm or ±hhmm; none = UTC) → aware UTC."""
    match = _DATETIME_SHAPE.match(text.strip())
    if not match:
        raise ValueError(f"not a date-time: {text}")
    year, month, dom, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    value = datetime(
        int(year), int(month), int(dom), int(hour), int(minute), int(second or 0), micro, tzinfo=UTC
    )
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def to_json(value: Any) -> Any:
    """A stored value as Salesforce writes it in JSON (dates as 2026-11-28, date-times as
    2026-11-28T10:00:00.000+0000)."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def format_datetime(value: datetime) -> str:
    """A date-time in Salesforce's JSON form."""
    return _iso(value)
