"""Calendar arithmetic of the EWS emulator: Windows time zones and recurring series.

A recurring master stores its pattern as the `t:Recurrence` element clients send. CalendarView
expands it occurrence by occurrence in the series' own time zone (so a weekly 10:00 meeting stays at
10:00 local time across daylight-saving changes), skips deleted occurrences and applies the
modified ones (exceptions).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from ..zones import windows_id_of, zone_named
from .soap import local, parse_date, t

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_OCCURRENCES = 5000  # a series with no end is expanded only up to the view's end anyway


def zone(windows_id: str | None) -> tzinfo:
    """The zone for a Windows time zone id (an IANA name is accepted too); UTC when unknown."""
    return zone_named(windows_id) or UTC


def windows_id(iana: str) -> str:
    """The Windows id Exchange reports for an IANA zone name ('UTC' when Windows has none)."""
    return windows_id_of(iana) or "UTC"


# --- occurrence ids ----------------------------------------------------------------------------------


def occurrence_id(master_id: str, original_start: datetime) -> str:
    """The ItemId of one occurrence: opaque to clients, decodable by the emulator."""
    raw = f"{master_id}|{original_start.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}".encode()
    return "AAMkOCC" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def split_occurrence_id(item_id: str) -> tuple[str, datetime] | None:
    """(master id, original start) of an occurrence id, or None for an ordinary item id."""
    if not item_id.startswith("AAMkOCC"):
        return None
    encoded = item_id[len("AAMkOCC") :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        master, _, stamp = raw.rpartition("|")
        return master, datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


# --- recurrence ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """A recurrence pattern read from a `t:Recurrence` element."""

    kind: str  # DailyRecurrence, WeeklyRecurrence, AbsoluteMonthlyRecurrence, AbsoluteYearlyRecurrence
    interval: int
    weekdays: tuple[int, ...]  # 0 = Monday
    day_of_month: int
    month: int
    start_date: date
    end_date: date | None
    count: int | None


def read_pattern(recurrence: Any) -> Pattern:
    """Parse a `t:Recurrence` element; ValueError for patterns the emulator does not expand."""
    kind, interval, day_of_month, month = "", 1, 1, 1
    weekdays: tuple[int, ...] = ()
    start_date: date | None = None
    end_date: date | None = None
    count: int | None = None
    for child in recurrence:
        name = local(child.tag)
        fields = {local(c.tag): (c.text or "").strip() for c in child}
        if name.endswith("Recurrence") and name not in (
            "NoEndRecurrence",
            "EndDateRecurrence",
            "NumberedRecurrence",
        ):
            kind = name
            interval = int(fields.get("Interval") or 1)
            weekdays = tuple(WEEKDAYS.index(d) for d in fields.get("DaysOfWeek", "").split() if d in WEEKDAYS)
            day_of_month = int(fields.get("DayOfMonth") or 1)
            month = _month_number(fields.get("Month", "January"))
        elif name in ("NoEndRecurrence", "EndDateRecurrence", "NumberedRecurrence"):
            start_date = parse_date(fields["StartDate"])
            if name == "EndDateRecurrence":
                end_date = parse_date(fields["EndDate"])
            if name == "NumberedRecurrence":
                count = int(fields["NumberOfOccurrences"])
    if kind not in (
        "DailyRecurrence",
        "WeeklyRecurrence",
        "AbsoluteMonthlyRecurrence",
        "AbsoluteYearlyRecurrence",
    ):
        raise ValueError(f"recurrence pattern {kind or '(none)'} is not supported by the sandbox")
    if start_date is None:
        raise ValueError("the recurrence has no range (StartDate)")
    return Pattern(kind, max(interval, 1), weekdays, day_of_month, month, start_date, end_date, count)


def _month_number(name: str) -> int:
    months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    return months.index(name) + 1 if name in months else 1


def _dates(pattern: Pattern, first_weekday: int) -> Iterator[date]:
    """Local dates of the series in order (unbounded unless the pattern ends)."""
    day = pattern.start_date
    if pattern.kind == "DailyRecurrence":
        while True:
            yield day
            day += timedelta(days=pattern.interval)
    elif pattern.kind == "WeeklyRecurrence":
        weekdays = sorted(pattern.weekdays or (first_weekday,))
        week_start = day - timedelta(days=day.weekday())
        while True:
            for weekday in weekdays:
                candidate = week_start + timedelta(days=weekday)
                if candidate >= pattern.start_date:
                    yield candidate
            week_start += timedelta(weeks=pattern.interval)
    elif pattern.kind == "AbsoluteMonthlyRecurrence":
        year, month = day.year, day.month
        while True:
            try:
                candidate = date(year, month, pattern.day_of_month)
            except ValueError:
                candidate = None
            if candidate is not None and candidate >= pattern.start_date:
                yield candidate
            month += pattern.interval
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    else:
        year = day.year
        while True:
            try:
                candidate = date(year, pattern.month, pattern.day_of_month)
            except ValueError:
                candidate = None
            if candidate is not None and candidate >= pattern.start_date:
                yield candidate
            year += pattern.interval


def occurrence_starts(
    pattern: Pattern, first_start: datetime, tz: tzinfo, until: datetime
) -> Iterator[datetime]:
    """UTC start of every occurrence (deleted ones included) that starts before `until`."""
    local_first = first_start.astimezone(tz)
    clock = local_first.timetz().replace(tzinfo=None)
    for produced, day in enumerate(_dates(pattern, local_first.weekday())):
        if pattern.end_date is not None and day > pattern.end_date:
            return
        if (pattern.count is not None and produced >= pattern.count) or produced >= MAX_OCCURRENCES:
            return
        start = datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)
        if start >= until:
            return
        yield start


def recurrence_element(spec: dict[str, Any], first_start: datetime, tz: tzinfo) -> Any:
    """Build a `t:Recurrence` element from a friendly spec.

    `spec`: {"pattern": "daily" | "weekly" | "monthly" | "yearly", "interval": 1,
    "days": ["Monday", …] (weekly), "count": N | "until": date | neither (no end)}.
    """
    from lxml import etree

    kind = {
        "daily": "DailyRecurrence",
        "weekly": "WeeklyRecurrence",
        "monthly": "AbsoluteMonthlyRecurrence",
        "yearly": "AbsoluteYearlyRecurrence",
    }[str(spec.get("pattern", "weekly"))]
    local_first = first_start.astimezone(tz)
    recurrence = etree.Element(t("Recurrence"))
    pattern = etree.SubElement(recurrence, t(kind))
    if kind != "AbsoluteYearlyRecurrence":
        etree.SubElement(pattern, t("Interval")).text = str(int(spec.get("interval", 1)))
    if kind == "WeeklyRecurrence":
        days = spec.get("days") or [WEEKDAYS[local_first.weekday()]]
        etree.SubElement(pattern, t("DaysOfWeek")).text = " ".join(str(d) for d in days)
        etree.SubElement(pattern, t("FirstDayOfWeek")).text = "Monday"
    if kind in ("AbsoluteMonthlyRecurrence", "AbsoluteYearlyRecurrence"):
        etree.SubElement(pattern, t("DayOfMonth")).text = str(local_first.day)
    if kind == "AbsoluteYearlyRecurrence":
        etree.SubElement(pattern, t("Month")).text = local_first.strftime("%B")
    start_date = local_first.date().isoformat()
    if spec.get("count"):
        boundary = etree.SubElement(recurrence, t("NumberedRecurrence"))
        etree.SubElement(boundary, t("StartDate")).text = start_date
        etree.SubElement(boundary, t("NumberOfOccurrences")).text = str(int(spec["count"]))
    elif spec.get("until"):
        until = spec["until"]
        boundary = etree.SubElement(recurrence, t("EndDateRecurrence"))
        etree.SubElement(boundary, t("StartDate")).text = start_date
        etree.SubElement(boundary, t("EndDate")).text = (
            until.isoformat() if isinstance(until, date) else str(until)
        )[:10]
    else:
        boundary = etree.SubElement(recurrence, t("NoEndRecurrence"))
        etree.SubElement(boundary, t("StartDate")).text = start_date
    return recurrence
