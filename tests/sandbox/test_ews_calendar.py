"""The EWS emulator's calendar: recurring series expanded in their own time zone by CalendarView,
occurrences and exceptions as items of their own, the two-year view limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from rgsync.sandbox.ews import RunningEws, start_ews
from tests.sandbox.ews_soap import folder, get_item, post, sync, uri


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    running = start_ews()
    try:
        yield running
    finally:
        running.stop()


def view(ews: RunningEws, start: datetime, end: datetime) -> list[tuple[str, str, str]]:
    """(type, start, subject) of what a CalendarView over [start, end) lists."""
    answer = post(
        ews,
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>'
        + uri("calendar:CalendarItemType")
        + uri("calendar:Start")
        + uri("item:Subject")
        + f'</t:AdditionalProperties></m:ItemShape><m:CalendarView StartDate="{start:%Y-%m-%dT%H:%M:%SZ}" '
        f'EndDate="{end:%Y-%m-%dT%H:%M:%SZ}" MaxEntriesReturned="100"/>'
        f"<m:ParentFolderIds>{folder('calendar')}</m:ParentFolderIds></m:FindItem>",
    )
    assert answer.messages() == [("Success", "NoError")], answer.messages()
    return [
        (
            i.findtext("t:CalendarItemType", namespaces=NS),
            i.findtext("t:Start", namespaces=NS),
            i.findtext("t:Subject", namespaces=NS),
        )
        for i in answer.all("//t:Items/t:CalendarItem")
    ]


NS = {"t": "http://schemas.microsoft.com/exchange/services/2006/types"}


def test_a_weekly_series_keeps_its_local_time_across_daylight_saving(ews: RunningEws) -> None:
    first = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)  # 10:00 in Berlin (winter time)
    ews.state.add_calendar_item(
        {
            "subject": "Standup",
            "start": first,
            "end": first + timedelta(minutes=15),
            "timezone": "W. Europe Standard Time",
            "recurrence": {"pattern": "weekly", "days": ["Monday"], "count": 4},
        }
    )
    listed = view(ews, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))
    # Berlin moves to summer time on 28 March 2027: 10:00 local is then 08:00 UTC.
    assert listed == [
        ("Occurrence", "2027-03-15T09:00:00Z", "Standup"),
        ("Occurrence", "2027-03-22T09:00:00Z", "Standup"),
        ("Occurrence", "2027-03-29T08:00:00Z", "Standup"),
        ("Occurrence", "2027-04-05T08:00:00Z", "Standup"),
    ]


def test_exceptions_and_deleted_occurrences_show_in_the_view_and_as_master_changes(ews: RunningEws) -> None:
    first = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    series = ews.state.add_calendar_item(
        {
            "subject": "Review",
            "start": first,
            "end": first + timedelta(hours=1),
            "recurrence": {"pattern": "daily", "count": 3},
        }
    )
    state = post(ews, sync(folder("calendar"))).text("//m:SyncState")
    second, third = ews.state.occurrences(series)[1:]
    ews.state.update_item(second, {"subject": "Review (longer)", "end": first + timedelta(days=1, hours=2)})
    ews.state.delete_item(third)
    listed = view(ews, first - timedelta(days=1), first + timedelta(days=5))
    assert listed == [
        ("Occurrence", "2026-12-01T14:00:00Z", "Review"),
        ("Exception", "2026-12-02T14:00:00Z", "Review (longer)"),
    ]
    answer = post(ews, sync(folder("calendar"), state=state, fields=uri("calendar:CalendarItemType")))
    assert [c.tag.rpartition("}")[2] for c in answer.all("//m:Changes/*")] == ["Update"]
    assert answer.text("//t:CalendarItemType") == "RecurringMaster"  # the series is one item in its folder
    occurrence = post(
        ews, get_item([second], uri("calendar:OriginalStart") + uri("calendar:CalendarItemType"))
    )
    assert occurrence.text("//t:CalendarItemType") == "Exception"
    assert occurrence.text("//t:OriginalStart") == "2026-12-02T14:00:00Z"
    assert post(ews, get_item([third])).messages() == [("Error", "ErrorItemNotFound")]


def test_a_view_lists_what_overlaps_it(ews: RunningEws) -> None:
    day = datetime(2026, 12, 10, tzinfo=UTC)
    for subject, start, hours in (
        ("Before", day - timedelta(hours=3), 1),
        ("Across the start", day - timedelta(hours=1), 2),
        ("Inside", day + timedelta(hours=9), 1),
        ("After", day + timedelta(days=1), 1),
    ):
        ews.state.add_calendar_item(
            {"subject": subject, "start": start, "end": start + timedelta(hours=hours)}
        )
    assert [s for _t, _s, s in view(ews, day, day + timedelta(days=1))] == ["Across the start", "Inside"]


def test_a_view_longer_than_two_years_is_refused(ews: RunningEws) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    answer = post(
        ews,
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
        f'<m:CalendarView StartDate="{start:%Y-%m-%dT%H:%M:%SZ}" EndDate="2029-01-01T00:00:00Z"/>'
        f"<m:ParentFolderIds>{folder('calendar')}</m:ParentFolderIds></m:FindItem>",
    )
    assert answer.messages() == [("Error", "ErrorCalendarViewRangeTooBig")]


def test_all_day_items_start_at_midnight_in_their_zone(ews: RunningEws) -> None:
    from datetime import date

    item = ews.state.add_calendar_item(
        {
            "subject": "Offsite",
            "start": date(2026, 12, 7),
            "end": date(2026, 12, 8),
            "all_day": True,
            "timezone": "Eastern Standard Time",
        }
    )
    answer = post(
        ews,
        get_item(
            [item], uri("calendar:Start") + uri("calendar:IsAllDayEvent") + uri("calendar:StartTimeZone")
        ),
    )
    assert answer.text("//t:Start") == "2026-12-07T05:00:00Z"  # midnight in New York
    assert answer.text("//t:IsAllDayEvent") == "true"
    assert answer.one("//t:StartTimeZone").get("Id") == "Eastern Standard Time"
