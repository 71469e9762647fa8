"""The Calendar emulator driven through the real google-api-python-client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from rgsync.sandbox.google import RunningGoogle, start_google
from tests.sandbox.google_harness import Clock, error_json, service

BERLIN = "Europe/Berlin"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningGoogle]:
    running = start_google()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def google(server: RunningGoogle, clock: Clock) -> RunningGoogle:
    server.reset(scenario={"user": {"address": "ann@acme.com", "timeZone": BERLIN}}, clock=clock)
    return server


@pytest.fixture
def events(google: RunningGoogle) -> Any:
    return service(google, "calendar").events()


def timed(summary: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": start, "timeZone": BERLIN},
        "end": {"dateTime": end, "timeZone": BERLIN},
        **extra,
    }


def list_all(events: Any, **params: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item over all pages, and the pages themselves."""
    items: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    token = None
    while True:
        page = events.list(calendarId="primary", pageToken=token, **params).execute()
        pages.append(page)
        items += page.get("items", [])
        token = page.get("nextPageToken")
        if not token:
            return items, pages


def test_weekly_series_expands_into_instances_with_google_ids(events: Any) -> None:
    series = events.insert(
        calendarId="primary",
        body=timed(
            "Standup",
            "2026-11-30T10:00:00",
            "2026-11-30T10:15:00",
            recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4"],
        ),
    ).execute()
    items, _ = list_all(events, singleEvents=True, orderBy="startTime")
    assert [i["id"] for i in items] == [
        f"{series['id']}_20261130T090000Z",
        f"{series['id']}_20261202T090000Z",
        f"{series['id']}_20261207T090000Z",
        f"{series['id']}_20261209T090000Z",
    ]
    second = items[1]
    assert second["recurringEventId"] == series["id"] and "recurrence" not in second
    assert second["originalStartTime"] == {"dateTime": "2026-12-02T10:00:00+01:00", "timeZone": BERLIN}
    assert second["end"]["dateTime"] == "2026-12-02T10:15:00+01:00"
    assert second["iCalUID"] == series["iCalUID"]
    masters, _ = list_all(events)
    assert [m["id"] for m in masters] == [series["id"]] and masters[0]["recurrence"]


def test_daily_series_keeps_wall_clock_time_across_dst_with_interval_until_and_exdate(events: Any) -> None:
    series = events.insert(
        calendarId="primary",
        body=timed(
            "Review",
            "2026-03-25T09:00:00",
            "2026-03-25T09:30:00",
            recurrence=[
                "RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20260404T235959Z",
                "EXDATE;TZID=Europe/Berlin:20260331T090000",
            ],
        ),
    ).execute()
    items, _ = list_all(events, singleEvents=True)
    stamps = [i["id"].split("_")[1] for i in items]
    # 25, 27 March are UTC+1; after 29 March Berlin is UTC+2; 31 March is excluded.
    assert stamps == [
        "20260325T080000Z",
        "20260327T080000Z",
        "20260329T070000Z",
        "20260402T070000Z",
        "20260404T070000Z",
    ]
    assert all(i["start"]["dateTime"].startswith(i["originalStartTime"]["dateTime"][:10]) for i in items)
    assert items[2]["start"]["dateTime"] == "2026-03-29T09:00:00+02:00"
    assert series["recurrence"][1].startswith("EXDATE")


def test_all_day_monthly_series_and_time_window(events: Any) -> None:
    events.insert(
        calendarId="primary",
        body={
            "summary": "Billing day",
            "start": {"date": "2026-01-31"},
            "end": {"date": "2026-02-01"},
            "recurrence": ["RRULE:FREQ=MONTHLY;BYMONTHDAY=-1"],
        },
    ).execute()
    items, _ = list_all(
        events, singleEvents=True, timeMin="2026-02-01T00:00:00Z", timeMax="2026-05-01T00:00:00Z"
    )
    assert [i["start"]["date"] for i in items] == ["2026-02-28", "2026-03-31", "2026-04-30"]
    assert items[0]["id"].endswith("_20260228") and items[0]["originalStartTime"] == {"date": "2026-02-28"}


def test_instance_changes_become_exceptions_of_the_series(events: Any) -> None:
    series = events.insert(
        calendarId="primary",
        body=timed(
            "Sync", "2026-12-01T15:00:00", "2026-12-01T16:00:00", recurrence=["RRULE:FREQ=DAILY;COUNT=3"]
        ),
    ).execute()
    second, third = (f"{series['id']}_20261202T140000Z", f"{series['id']}_20261203T140000Z")
    moved = events.patch(calendarId="primary", eventId=second, body={"summary": "Sync (moved)"}).execute()
    assert moved["recurringEventId"] == series["id"] and moved["summary"] == "Sync (moved)"
    events.delete(calendarId="primary", eventId=third).execute()
    single, _ = list_all(events, singleEvents=True)
    assert [i["summary"] for i in single] == ["Sync", "Sync (moved)"]
    with_deleted, _ = list_all(events, singleEvents=True, showDeleted=True)
    assert with_deleted[-1] == {
        "kind": "calendar#event",
        "etag": with_deleted[-1]["etag"],
        "id": third,
        "status": "cancelled",
        "updated": with_deleted[-1]["updated"],
        "recurringEventId": series["id"],
        "originalStartTime": {"dateTime": "2026-12-03T15:00:00+01:00", "timeZone": BERLIN},
    }
    masters, _ = list_all(events)
    assert {m["id"] for m in masters} == {series["id"], second, third}


def test_sync_token_comes_on_the_last_page_and_returns_only_changes(
    google: RunningGoogle, events: Any, clock: Clock
) -> None:
    ids = [
        events.insert(
            calendarId="primary", body=timed(f"E{n}", f"2026-12-0{n}T10:00:00", f"2026-12-0{n}T11:00:00")
        ).execute()["id"]
        for n in range(1, 4)
    ]
    items, pages = list_all(events, maxResults=2)
    assert len(pages) == 2 and "nextSyncToken" not in pages[0] and "nextSyncToken" in pages[1]
    assert [i["id"] for i in items] == ids
    token = pages[1]["nextSyncToken"]

    clock.advance(minutes=5)
    events.patch(calendarId="primary", eventId=ids[0], body={"location": "Room 1"}).execute()
    events.delete(calendarId="primary", eventId=ids[1]).execute()
    added = google.state.add_event(timed("From elsewhere", "2026-12-05T10:00:00", "2026-12-05T11:00:00"))
    changed, changed_pages = list_all(events, syncToken=token)
    assert {i["id"]: i["status"] for i in changed} == {
        ids[0]: "confirmed",
        ids[1]: "cancelled",
        added: "confirmed",
    }
    quiet, _ = list_all(events, syncToken=changed_pages[-1]["nextSyncToken"])
    assert quiet == []


def test_incremental_pages_can_be_followed_with_the_page_token_alone(
    google: RunningGoogle, events: Any
) -> None:
    _, pages = list_all(events)
    token = pages[-1]["nextSyncToken"]
    for day in range(1, 4):
        google.state.add_event(timed(f"New {day}", f"2026-12-0{day}T10:00:00", f"2026-12-0{day}T11:00:00"))
    first = events.list(calendarId="primary", syncToken=token, maxResults=2).execute()
    assert len(first["items"]) == 2 and "nextSyncToken" not in first
    rest = events.list(calendarId="primary", pageToken=first["nextPageToken"], maxResults=2).execute()
    assert [i["summary"] for i in rest["items"]] == ["New 3"] and rest["nextSyncToken"]
    assert events.list(calendarId="primary", syncToken=rest["nextSyncToken"]).execute()["items"] == []


def test_sync_token_refuses_filters_and_expires_with_410(google: RunningGoogle, events: Any) -> None:
    _, pages = list_all(events)
    token = pages[-1]["nextSyncToken"]
    with pytest.raises(HttpError) as refused:
        events.list(calendarId="primary", syncToken=token, timeMin="2026-01-01T00:00:00Z").execute()
    assert refused.value.resp.status == 400
    google.state.expire_sync_tokens()
    with pytest.raises(HttpError) as gone:
        events.list(calendarId="primary", syncToken=token).execute()
    assert gone.value.resp.status == 410
    error = error_json(gone.value)
    assert error["errors"][0]["reason"] == "fullSyncRequired"
    assert error["message"] == "Sync token is no longer valid, a full sync is required."


def test_send_updates_is_recorded_per_write(events: Any, google: RunningGoogle) -> None:
    body = timed(
        "Demo", "2026-12-03T10:00:00", "2026-12-03T11:00:00", attendees=[{"email": "bob@globex.com"}]
    )
    created = events.insert(calendarId="primary", body=body, sendUpdates="none").execute()
    events.patch(calendarId="primary", eventId=created["id"], body={"summary": "Demo 2"}).execute()
    events.delete(calendarId="primary", eventId=created["id"], sendUpdates="all").execute()
    assert google.state.calendar.send_updates_log == [
        ("insert", created["id"], "none"),
        ("patch", created["id"], None),
        ("delete", created["id"], "all"),
    ]


def test_client_chosen_ids_are_validated_and_unique(events: Any) -> None:
    body = timed("Meeting", "2026-12-03T10:00:00", "2026-12-03T11:00:00", id="0rgs12345abc")
    assert events.insert(calendarId="primary", body=body).execute()["id"] == "0rgs12345abc"
    with pytest.raises(HttpError) as duplicate:
        events.insert(calendarId="primary", body=body).execute()
    assert duplicate.value.resp.status == 409
    assert error_json(duplicate.value)["errors"][0]["reason"] == "duplicate"
    with pytest.raises(HttpError) as invalid:
        events.insert(calendarId="primary", body=dict(body, id="rgsync-1")).execute()
    assert invalid.value.resp.status == 400
    events.delete(calendarId="primary", eventId="0rgs12345abc").execute()
    with pytest.raises(HttpError) as after_delete:
        events.insert(calendarId="primary", body=body).execute()
    assert after_delete.value.resp.status == 409


def test_sequence_and_etag_follow_changes(events: Any, clock: Clock) -> None:
    created = events.insert(
        calendarId="primary", body=timed("Call", "2026-12-03T10:00:00", "2026-12-03T11:00:00")
    ).execute()
    assert created["sequence"] == 0 and created["organizer"] == {"email": "ann@acme.com", "self": True}
    clock.advance(minutes=1)
    moved = events.patch(
        calendarId="primary",
        eventId=created["id"],
        body={
            "start": {"dateTime": "2026-12-03T12:00:00+01:00"},
            "end": {"dateTime": "2026-12-03T13:00:00+01:00"},
        },
    ).execute()
    assert (
        moved["sequence"] == 1 and moved["etag"] != created["etag"] and moved["updated"] > created["updated"]
    )
    described = events.patch(
        calendarId="primary", eventId=created["id"], body={"description": "agenda"}
    ).execute()
    assert described["sequence"] == 1 and described["start"]["dateTime"] == "2026-12-03T12:00:00+01:00"
    with pytest.raises(HttpError) as stale:
        events.update(calendarId="primary", eventId=created["id"], body=dict(described, sequence=0)).execute()
    assert stale.value.resp.status == 400


def test_extended_properties_filter_all_day_and_attendee_flags(google: RunningGoogle, events: Any) -> None:
    ours = events.insert(
        calendarId="primary",
        body={
            "summary": "Offsite",
            "start": {"date": "2026-12-10"},
            "end": {"date": "2026-12-12"},
            "extendedProperties": {"private": {"rgsync_id": "00U1"}},
        },
    ).execute()
    google.state.add_event(
        timed(
            "Invite from Bob",
            "2026-12-04T10:00:00",
            "2026-12-04T11:00:00",
            organizer={"email": "bob@globex.com"},
            attendees=[{"email": "bob@globex.com", "responseStatus": "accepted"}, {"email": "ann@acme.com"}],
        )
    )
    tagged, _ = list_all(events, privateExtendedProperty="rgsync_id=00U1")
    assert [e["id"] for e in tagged] == [ours["id"]] and tagged[0]["start"] == {"date": "2026-12-10"}
    invite = next(e for e in list_all(events)[0] if e["summary"] == "Invite from Bob")
    assert invite["attendees"] == [
        {"email": "bob@globex.com", "responseStatus": "accepted", "organizer": True},
        {"email": "ann@acme.com", "responseStatus": "needsAction", "self": True},
    ]


def test_deleted_events_stay_readable_and_cannot_be_deleted_twice(events: Any) -> None:
    created = events.insert(
        calendarId="primary", body=timed("Gone", "2026-12-03T10:00:00", "2026-12-03T11:00:00")
    ).execute()
    events.delete(calendarId="primary", eventId=created["id"]).execute()
    assert events.get(calendarId="primary", eventId=created["id"]).execute()["status"] == "cancelled"
    assert list_all(events)[0] == []
    with pytest.raises(HttpError) as again:
        events.delete(calendarId="primary", eventId=created["id"]).execute()
    assert again.value.resp.status == 410


def test_event_validation_refuses_what_google_refuses(events: Any) -> None:
    cases = [
        {"summary": "no end", "start": {"dateTime": "2026-12-03T10:00:00Z"}},
        timed("backwards", "2026-12-03T10:00:00", "2026-12-03T09:00:00"),
        {
            "summary": "no zone",
            "start": {"dateTime": "2026-12-03T10:00:00"},
            "end": {"dateTime": "2026-12-03T11:00:00"},
        },
        timed("bad rule", "2026-12-03T10:00:00", "2026-12-03T11:00:00", recurrence=["RRULE:FREQ=HOURLY"]),
    ]
    for body in cases:
        with pytest.raises(HttpError) as refused:
            events.insert(calendarId="primary", body=body).execute()
        assert refused.value.resp.status == 400, body["summary"]
