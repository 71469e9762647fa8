"""Expanding a Calendar event's `recurrence` lines (RFC 5545 RRULE, EXDATE, RDATE) into occurrences.

Supported: FREQ=DAILY/WEEKLY/MONTHLY/YEARLY with INTERVAL, COUNT, UNTIL, BYDAY (with ordinals for
MONTHLY, e.g. 2TU or -1FR), BYMONTHDAY, BYMONTH and WKST (Monday weeks only); EXDATE and RDATE as
UTC, TZID-local or VALUE=DATE lists. Occurrences are computed in the event's own time zone so they
keep their wall-clock time across daylight-saving changes, as Google Calendar does. Anything else is
refused with `RecurrenceError` (the emulator answers 400, so an adapter never silently gets a
different series than Google would produce).
"""

from __future__ import annotations

import calendar as calendar_module
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# Far enough for any test; a runaway rule (e.g. BYMONTHDAY=31;BYMONTH=2) stops here.
MAX_PERIODS = 50_000


class RecurrenceError(ValueError):
    """A recurrence line the emulator (and so, usually, Google) cannot use."""


@dataclass(frozen=True)
class Rule:
    """One parsed RRULE."""

    frequency: str
    interval: int = 1
    count: int | None = None
    until: datetime | date | None = None
    by_day: tuple[tuple[int, int], ...] = ()  # (ordinal, weekday 0=Monday); ordinal 0 means every
    by_month_day: tuple[int, ...] = ()
    by_month: tuple[int, ...] = ()


@dataclass(frozen=True)
class Recurrence:
    """All recurrence lines of one event."""

    rules: tuple[Rule, ...]
    exdates: frozenset[datetime | date]  # timed values in UTC
    rdates: tuple[datetime | date, ...]


def zone(name: str | None) -> tzinfo:
    """The time zone named by an IANA id; unknown names are a RecurrenceError."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecurrenceError(f"Invalid time zone definition: {name}") from None


def _parse_stamp(text: str, local: tzinfo, *, value_is_date: bool) -> datetime | date:
    text = text.strip()
    try:
        if value_is_date or len(text) == 8:
            return datetime.strptime(text[:8], "%Y%m%d").date()
        if text.endswith("Z"):
            return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=local).astimezone(UTC)
    except ValueError:
        raise RecurrenceError(f"Invalid date value: {text}") from None


def _parse_dates(line: str, local: tzinfo) -> list[datetime | date]:
    head, _, values = line.partition(":")
    params = head.split(";")[1:]
    value_is_date = any(p.upper() == "VALUE=DATE" for p in params)
    where = local
    for param in params:
        if param.upper().startswith("TZID="):
            where = zone(param[5:])
    return [_parse_stamp(v, where, value_is_date=value_is_date) for v in values.split(",") if v.strip()]


def _parse_rule(text: str, local: tzinfo) -> Rule:
    parts: dict[str, str] = {}
    for piece in text.split(";"):
        if not piece:
            continue
        key, sep, value = piece.partition("=")
        if not sep:
            raise RecurrenceError(f"Invalid recurrence rule: {text}")
        parts[key.upper()] = value.upper()
    frequency = parts.pop("FREQ", "")
    if frequency not in FREQUENCIES:
        raise RecurrenceError(f"Unsupported recurrence frequency: {frequency or 'missing'}")
    try:
        interval = int(parts.pop("INTERVAL", "1"))
        count = int(parts["COUNT"]) if "COUNT" in parts else None
    except ValueError:
        raise RecurrenceError(f"Invalid recurrence rule: {text}") from None
    parts.pop("COUNT", None)
    if interval < 1 or (count is not None and count < 1):
        raise RecurrenceError(f"Invalid recurrence rule: {text}")
    until_text = parts.pop("UNTIL", None)
    if count is not None and until_text is not None:
        raise RecurrenceError("COUNT and UNTIL cannot both be set")
    until = _parse_stamp(until_text, local, value_is_date=len(until_text) == 8) if until_text else None
    by_day: list[tuple[int, int]] = []
    for item in filter(None, parts.pop("BYDAY", "").split(",")):
        ordinal_text, day = item[:-2], item[-2:]
        if day not in WEEKDAYS:
            raise RecurrenceError(f"Invalid BYDAY value: {item}")
        ordinal = int(ordinal_text) if ordinal_text not in ("", "+") else 0
        if ordinal and frequency != "MONTHLY":
            raise RecurrenceError(f"BYDAY ordinals are only supported with FREQ=MONTHLY: {item}")
        by_day.append((ordinal, WEEKDAYS.index(day)))
    try:
        by_month_day = tuple(int(x) for x in filter(None, parts.pop("BYMONTHDAY", "").split(",")))
        by_month = tuple(int(x) for x in filter(None, parts.pop("BYMONTH", "").split(",")))
    except ValueError:
        raise RecurrenceError(f"Invalid recurrence rule: {text}") from None
    week_start = parts.pop("WKST", "MO")
    if week_start != "MO" or parts:
        raise RecurrenceError(
            f"Unsupported recurrence rule part(s): {', '.join(parts) or 'WKST=' + week_start}"
        )
    if by_day and frequency == "YEARLY":
        raise RecurrenceError("BYDAY is not supported with FREQ=YEARLY")
    return Rule(frequency, interval, count, until, tuple(by_day), by_month_day, by_month)


def parse(lines: list[str], local: tzinfo) -> Recurrence:
    """Parse an event's `recurrence` list; `local` is the zone of TZID-less local times."""
    rules: list[Rule] = []
    exdates: set[datetime | date] = set()
    rdates: list[datetime | date] = []
    for line in lines:
        name = line.split(":", 1)[0].split(";", 1)[0].upper()
        if name == "RRULE":
            rules.append(_parse_rule(line.split(":", 1)[1] if ":" in line else "", local))
        elif name == "EXDATE":
            exdates.update(_parse_dates(line, local))
        elif name == "RDATE":
            rdates.extend(_parse_dates(line, local))
        else:
            raise RecurrenceError(f"Unsupported recurrence line: {line}")
    if not rules and not rdates:
        raise RecurrenceError("A recurrence needs an RRULE or RDATE line")
    return Recurrence(tuple(rules), frozenset(exdates), tuple(rdates))


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _month_days(rule: Rule, year: int, month: int, first: date) -> list[date]:
    length = calendar_module.monthrange(year, month)[1]
    days: set[int] = set()
    if rule.by_day:
        for ordinal, weekday in rule.by_day:
            matching = [d for d in range(1, length + 1) if date(year, month, d).weekday() == weekday]
            if ordinal == 0:
                days.update(matching)
            elif -len(matching) <= ordinal <= len(matching) and ordinal != 0:
                days.add(matching[ordinal - 1] if ordinal > 0 else matching[ordinal])
    if rule.by_month_day:
        wanted = {d if d > 0 else length + d + 1 for d in rule.by_month_day}
        days = (days & wanted) if rule.by_day else wanted
    if not rule.by_day and not rule.by_month_day:
        days = {first.day}
    return [date(year, month, d) for d in sorted(days) if 1 <= d <= length]


def _on_month_day(day: date, month_days: tuple[int, ...]) -> bool:
    """Whether `day` is one of the BYMONTHDAY values, counting negative ones from the month's end."""
    length = calendar_module.monthrange(day.year, day.month)[1]
    return day.day in month_days or day.day - length - 1 in month_days


def _dates(rule: Rule, first: date) -> Iterator[date]:
    """Candidate dates of one rule, in order, starting at the first period (may precede `first`)."""
    for period in range(MAX_PERIODS):
        step = period * rule.interval
        if rule.frequency == "DAILY":
            days = [first + timedelta(days=step)]
        elif rule.frequency == "WEEKLY":
            week = first - timedelta(days=first.weekday()) + timedelta(weeks=step)
            weekdays = sorted({weekday for _, weekday in rule.by_day}) or [first.weekday()]
            days = [week + timedelta(days=weekday) for weekday in weekdays]
        elif rule.frequency == "MONTHLY":
            year, month = _add_months(first.year, first.month, step)
            if year > 9999:
                return
            days = _month_days(rule, year, month, first)
        else:
            year = first.year + step
            if year > 9999:
                return
            days = []
            # BYMONTHDAY without BYMONTH means that day of every month (RFC 5545 §3.3.10).
            for month in rule.by_month or (range(1, 13) if rule.by_month_day else (first.month,)):
                for month_day in rule.by_month_day or (first.day,):
                    length = calendar_module.monthrange(year, month)[1]
                    actual = month_day if month_day > 0 else length + month_day + 1
                    if 1 <= actual <= length:
                        days.append(date(year, month, actual))
            days = sorted(set(days))  # BYMONTHDAY=28,-1 names February 28 twice; COUNT counts it once
        for day in days:
            if rule.by_month and day.month not in rule.by_month:
                continue
            if rule.frequency == "DAILY" and rule.by_day and day.weekday() not in {w for _, w in rule.by_day}:
                continue
            if rule.frequency == "DAILY" and rule.by_month_day and not _on_month_day(day, rule.by_month_day):
                continue
            yield day


def _rule_occurrences(rule: Rule, start: datetime | date, local: tzinfo) -> Iterator[datetime | date]:
    first = start.date() if isinstance(start, datetime) else start
    produced = 0
    for day in _dates(rule, first):
        if day < first:
            continue
        if isinstance(start, datetime):
            occurrence: datetime | date = datetime.combine(day, start.timetz().replace(tzinfo=None)).replace(
                tzinfo=local
            )
            if occurrence < start:
                continue
        else:
            occurrence = day
        if rule.until is not None and _after_until(occurrence, rule.until, local):
            return
        yield occurrence
        produced += 1
        if rule.count is not None and produced >= rule.count:
            return


def _after_until(occurrence: datetime | date, until: datetime | date, local: tzinfo) -> bool:
    if isinstance(occurrence, datetime):
        if isinstance(until, datetime):
            return occurrence > until
        return occurrence.astimezone(local).date() > until
    limit = until.astimezone(local).date() if isinstance(until, datetime) else until
    return occurrence > limit


def _excluded(occurrence: datetime | date, exdates: frozenset[datetime | date], local: tzinfo) -> bool:
    if isinstance(occurrence, datetime):
        return occurrence.astimezone(UTC) in exdates or occurrence.astimezone(local).date() in exdates
    return occurrence in exdates


def occurrences(
    recurrence: Recurrence,
    start: datetime | date,
    local: tzinfo,
    *,
    limit: int,
    before: datetime | None = None,
) -> list[datetime | date]:
    """The series' occurrences in order: rule dates plus RDATEs minus EXDATEs, at most `limit` of them,
    and only those starting before `before` when given. Timed starts are aware datetimes in `local`."""
    found: set[datetime | date] = set()
    bound_key = before
    for rule in recurrence.rules:
        for occurrence in _rule_occurrences(rule, start, local):
            if bound_key is not None and _start_key(occurrence, local) >= bound_key:
                break
            if len(found) >= limit * 2 and rule.count is None:
                break
            found.add(occurrence)
    for extra in recurrence.rdates:
        if isinstance(start, datetime):
            value: datetime | date = (
                extra.astimezone(local)
                if isinstance(extra, datetime)
                else datetime.combine(extra, start.timetz().replace(tzinfo=None)).replace(tzinfo=local)
            )
        else:
            value = extra.astimezone(local).date() if isinstance(extra, datetime) else extra
        if bound_key is None or _start_key(value, local) < bound_key:
            found.add(value)
    kept = [o for o in found if not _excluded(o, recurrence.exdates, local)]
    kept.sort(key=lambda o: _start_key(o, local))
    return kept[:limit]


def _start_key(value: datetime | date, local: tzinfo) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0)).replace(tzinfo=local)


def instance_stamp(value: datetime | date) -> str:
    """The suffix Google appends to a series id for one instance: 20261201T090000Z or 20261201."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")
