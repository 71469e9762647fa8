"""Recurring series in Graph's `patternedRecurrence` shape: checking one, and listing its
occurrences (daily, weekly, absolute/relative monthly, absolute yearly; end date, count or no end)."""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rgsync.sandbox.graph.common import GraphError, Json, zone

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_INDEX = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1}


def check_recurrence(value: Any) -> Json:
    """A recurrence from a request body, checked and completed with Graph's defaults; 400 if invalid."""
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("pattern"), Mapping)
        or not isinstance(value.get("range"), Mapping)
    ):
        raise GraphError(400, "ErrorInvalidRequest", "The recurrence needs a 'pattern' and a 'range'.")
    pattern, span = dict(value["pattern"]), dict(value["range"])
    if pattern.get("type") not in ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly"):
        raise GraphError(
            400,
            "ErrorInvalidRequest",
            f"The recurrence pattern type '{pattern.get('type')}' is not supported here.",
        )
    if span.get("type") not in ("endDate", "noEnd", "numbered"):
        raise GraphError(
            400, "ErrorInvalidRequest", f"The recurrence range type '{span.get('type')}' is not valid."
        )
    pattern.setdefault("interval", 1)
    pattern.setdefault("firstDayOfWeek", "sunday")
    return {"pattern": pattern, "range": span}


def occurrence_starts(
    recurrence: Mapping[str, Any], start: datetime, time_zone: str, until: datetime
) -> Iterator[datetime]:
    """Original starts (UTC) of a series' occurrences up to `until`, from the first one; the
    series starts at `start` and is generated in `time_zone` so the local time holds across DST."""
    pattern, span = recurrence["pattern"], recurrence["range"]
    local_zone = zone(time_zone)
    first_local = start.astimezone(local_zone)
    clock_time = first_local.timetz().replace(tzinfo=None)
    start_day = date.fromisoformat(str(span.get("startDate") or first_local.date().isoformat()))
    end_day = date.fromisoformat(str(span["endDate"])) if span.get("type") == "endDate" else None
    limit = int(span.get("numberOfOccurrences") or 0) if span.get("type") == "numbered" else None
    interval = max(1, int(pattern.get("interval") or 1))
    for count, day in enumerate(_days(pattern, start_day, interval)):
        if (end_day is not None and day > end_day) or (limit is not None and count >= limit):
            return
        moment = datetime.combine(day, clock_time, tzinfo=local_zone).astimezone(UTC)
        # A series runs at most 5000 occurrences far in the emulator.
        if moment > until + timedelta(days=1) or count >= 5000:
            return
        yield moment


def _days(pattern: Mapping[str, Any], first: date, interval: int) -> Iterator[date]:
    kind = pattern["type"]
    if kind == "daily":
        day = first
        while True:
            yield day
            day += timedelta(days=interval)
    elif kind == "weekly":
        wanted = sorted(_DAYS.index(d.lower()) for d in pattern.get("daysOfWeek") or [_DAYS[first.weekday()]])
        week_start_index = _DAYS.index(str(pattern.get("firstDayOfWeek", "sunday")).lower())
        offset = (first.weekday() - week_start_index) % 7
        week = first - timedelta(days=offset)
        while True:
            for index in wanted:
                day = week + timedelta(days=(index - week_start_index) % 7)
                if day >= first:
                    yield day
            week += timedelta(weeks=interval)
    elif kind in ("absoluteMonthly", "relativeMonthly"):
        year, month = first.year, first.month
        while True:
            found = _month_day(pattern, year, month)
            if found is not None and found >= first:
                yield found
            month += interval
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    elif kind == "absoluteYearly":
        year = first.year
        month = int(pattern.get("month") or first.month)
        while True:
            day_number = int(pattern.get("dayOfMonth") or first.day)
            if day_number <= month_calendar.monthrange(year, month)[1]:
                day = date(year, month, day_number)
                if day >= first:
                    yield day
            year += interval


def _month_day(pattern: Mapping[str, Any], year: int, month: int) -> date | None:
    length = month_calendar.monthrange(year, month)[1]
    if pattern["type"] == "absoluteMonthly":
        number = int(pattern.get("dayOfMonth") or 1)
        return date(year, month, number) if number <= length else None
    weekdays = [_DAYS.index(d.lower()) for d in pattern.get("daysOfWeek") or ["monday"]]
    matches = [
        date(year, month, d) for d in range(1, length + 1) if date(year, month, d).weekday() in weekdays
    ]
    index = _INDEX.get(str(pattern.get("index", "first")).lower(), 0)
    try:
        return matches[index]
    except IndexError:
        return None
