"""Recurrence expansion of the Calendar emulator (pure functions, no server)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from rgsync.sandbox.google.recurrence import RecurrenceError, instance_stamp, occurrences, parse

BERLIN = ZoneInfo("Europe/Berlin")


def expand(lines: list[str], start: datetime | date, limit: int = 50) -> list[str]:
    zone = BERLIN
    return [instance_stamp(o) for o in occurrences(parse(lines, zone), start, zone, limit=limit)]


def test_monthly_by_ordinal_weekday() -> None:
    start = datetime(2026, 1, 13, 10, 0, tzinfo=BERLIN)  # the second Tuesday of January
    assert expand(["RRULE:FREQ=MONTHLY;BYDAY=2TU;COUNT=3"], start) == [
        "20260113T090000Z",
        "20260210T090000Z",
        "20260310T090000Z",
    ]
    last_friday = datetime(2026, 1, 30, 10, 0, tzinfo=BERLIN)
    assert expand(["RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=2"], last_friday) == [
        "20260130T090000Z",
        "20260227T090000Z",
    ]


def test_count_includes_excluded_dates_as_rfc_5545_says() -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)
    lines = ["RRULE:FREQ=DAILY;COUNT=3", "EXDATE:20261202T080000Z"]
    assert expand(lines, start) == ["20261201T080000Z", "20261203T080000Z"]


def test_weekly_interval_counts_weeks_from_the_first_one() -> None:
    start = datetime(2026, 12, 2, 9, 0, tzinfo=BERLIN)  # a Wednesday
    assert expand(["RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=3"], start) == [
        "20261202T080000Z",
        "20261214T080000Z",
        "20261216T080000Z",
    ]


def test_all_day_until_is_inclusive_and_yearly_skips_missing_days() -> None:
    assert expand(["RRULE:FREQ=DAILY;UNTIL=20261203"], date(2026, 12, 1)) == [
        "20261201",
        "20261202",
        "20261203",
    ]
    assert expand(["RRULE:FREQ=YEARLY;COUNT=2"], date(2028, 2, 29)) == ["20280229", "20320229"]


def test_open_ended_series_stop_at_the_limit_and_the_bound() -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)
    assert len(expand(["RRULE:FREQ=DAILY"], start, limit=10)) == 10
    bounded = occurrences(
        parse(["RRULE:FREQ=DAILY"], BERLIN),
        start,
        BERLIN,
        limit=100,
        before=datetime(2026, 12, 4, tzinfo=UTC),
    )
    assert len(bounded) == 3


@pytest.mark.parametrize(
    "line",
    [
        "RRULE:FREQ=HOURLY",
        "RRULE:FREQ=DAILY;BYSETPOS=1",
        "RRULE:FREQ=DAILY;COUNT=2;UNTIL=20261201",
        "RRULE:FREQ=WEEKLY;BYDAY=XX",
        "EXRULE:FREQ=DAILY",
    ],
)
def test_unsupported_rules_are_refused(line: str) -> None:
    with pytest.raises(RecurrenceError):
        parse([line], BERLIN)
