"""The Graph emulator's v1.0 resources over HTTPS with plain requests: delta paging and tokens,
immutable ids, calendar views with recurring series, events (transactionId, notifications,
extended properties), contacts, To Do, `$batch`, errors, counters, faults and scenarios."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from rgsync.sandbox.graph import RunningGraph
from tests.sandbox.graph_support import NOW, GraphApi, event_json, raw_email, running

TAG = "String {0f5e8a3c-7d21-4b9e-a6c4-52d1e8b7f903} Name rgsync-salesforce-id"


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[RunningGraph]:
    yield from running(tmp_path)


@pytest.fixture
def api(graph: RunningGraph) -> GraphApi:
    return GraphApi(graph)


def _view(start: str = "2026-11-14T00:00:00Z", end: str = "2027-02-01T00:00:00Z") -> str:
    return f"/v1.0/me/calendarView/delta?startDateTime={start}&endDateTime={end}"


# -- messages --------------------------------------------------------------------------------------


def test_message_delta_pages_by_maxpagesize_then_reports_only_changes(
    graph: RunningGraph, api: GraphApi
) -> None:
    ids = [graph.state.add_message(raw_email(f"Mail {n}")) for n in range(5)]
    graph.state.add_message(raw_email("Sent one"), "sentitems")
    first = api.get(
        "/v1.0/me/mailFolders/inbox/messages/delta?$select=subject",
        prefer='IdType="ImmutableId", odata.maxpagesize=2',
    )
    assert first.headers["Preference-Applied"] == 'IdType="ImmutableId", odata.maxpagesize=2'
    body = first.json()
    assert len(body["value"]) == 2 and set(body["value"][0]) == {"id", "subject", "@odata.etag"}
    rows, delta = api.all_pages(
        "/v1.0/me/mailFolders/inbox/messages/delta?$select=subject",
        prefer='IdType="ImmutableId", odata.maxpagesize=2',
    )
    assert sorted(r["id"] for r in rows) == sorted(ids)
    assert api.get(delta).json()["value"] == []
    graph.state.set_categories(ids[0], ["Salesforce"])
    graph.state.delete_message(ids[1])
    changes, _ = api.all_pages(delta)
    assert {r["id"]: r.get("@removed") for r in changes} == {ids[0]: None, ids[1]: {"reason": "deleted"}}


def test_message_delta_filters_on_received_date_and_expands_the_message_class(
    graph: RunningGraph, api: GraphApi
) -> None:
    graph.state.add_message(raw_email("Old"), received=NOW - timedelta(days=30))
    graph.state.add_message(
        raw_email(
            "Bounce", extra='Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
        ),
        received=NOW,
    )
    path = "/v1.0/me/mailFolders/inbox/messages/delta?$filter=receivedDateTime ge 2026-11-22T00:00:00Z&$expand=singleValueExtendedProperties($filter=id eq 'String 0x001A')"
    rows, _ = api.all_pages(path)
    assert [r["subject"] for r in rows] == ["Bounce"]
    assert rows[0]["singleValueExtendedProperties"] == [
        {"id": "String 0x001A", "value": "REPORT.IPM.Note.NDR"}
    ]
    bad = api.get("/v1.0/me/mailFolders/inbox/messages/delta?$filter=subject eq 'x'").json()["error"]
    assert bad["code"] == "ErrorInvalidUrlQueryFilter"


def test_immutable_ids_survive_a_move_and_rest_ids_do_not(graph: RunningGraph, api: GraphApi) -> None:
    immutable = graph.state.add_message(raw_email("Move"))
    rest_id = api.get("/v1.0/me/mailFolders/inbox/messages", prefer="").json()["value"][0]["id"]
    assert rest_id != immutable
    graph.state.move_message(immutable, "archive")
    assert api.get(f"/v1.0/me/messages/{rest_id}", prefer="").status_code == 404
    moved = api.get(f"/v1.0/me/messages/{immutable}").json()
    assert moved["id"] == immutable and moved["parentFolderId"] == graph.state.mail.folder_ids["archive"]
    assert ("GET", "/v1.0/me/mailFolders/inbox/messages") in graph.state.requests_without_immutable_ids


def test_categories_patch_and_read_only_properties_are_refused(graph: RunningGraph, api: GraphApi) -> None:
    message = graph.state.add_message(raw_email("Label"))
    assert api.patch(f"/v1.0/me/messages/{message}", {"categories": ["Salesforce"]}).json()["categories"] == [
        "Salesforce"
    ]
    refused = api.patch(f"/v1.0/me/messages/{message}", {"subject": "Changed"})
    assert (
        refused.status_code == 400
        and refused.json()["error"]["code"] == "ErrorInvalidPropertyUpdateSentMessage"
    )
    assert b"Subject: Label" in api.get(f"/v1.0/me/messages/{message}/$value").content


def test_expired_delta_tokens_answer_410_sync_state_not_found(graph: RunningGraph, api: GraphApi) -> None:
    graph.state.add_message(raw_email("One"))
    _, delta = api.all_pages("/v1.0/me/mailFolders/inbox/messages/delta")
    graph.state.expire_delta_tokens()
    gone = api.get(delta)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "syncStateNotFound"
    assert gone.headers["Location"].endswith("/v1.0/me/mailFolders/inbox/messages/delta")
    assert len(api.all_pages("/v1.0/me/mailFolders/inbox/messages/delta")[0]) == 1


# -- calendar ----------------------------------------------------------------------------------------


def test_calendar_view_shows_occurrences_with_their_series_and_reports_removals(
    graph: RunningGraph, api: GraphApi
) -> None:
    start = NOW + timedelta(days=1)
    series = graph.state.add_event(
        event_json(
            "Standup",
            start,
            30,
            recurrence={
                "pattern": {"type": "daily", "interval": 1},
                "range": {
                    "type": "numbered",
                    "numberOfOccurrences": 4,
                    "startDate": start.date().isoformat(),
                },
            },
        )
    )
    single = graph.state.add_event(event_json("Lunch", start + timedelta(hours=3)))
    graph.state.add_event(event_json("Next year", NOW + timedelta(days=400)))
    rows, delta = api.all_pages(_view())
    occurrences = [r for r in rows if r.get("seriesMasterId") == series]
    assert [r["type"] for r in occurrences] == ["occurrence"] * 4
    assert [r["start"]["dateTime"][:16] for r in occurrences] == [
        (start + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M") for n in range(4)
    ]
    assert {r["id"] for r in rows} - {r["id"] for r in occurrences} == {single}
    assert api.delete(f"/v1.0/me/events/{occurrences[2]['id']}").status_code == 204
    graph.state.update_event(occurrences[0]["id"], {"subject": "Standup (moved)"})
    graph.state.delete_event(single)
    changes, _ = api.all_pages(delta)
    removed = sorted(r["id"] for r in changes if "@removed" in r)
    assert removed == sorted([occurrences[2]["id"], single])
    exception = next(r for r in changes if r["id"] == occurrences[0]["id"])
    assert exception["type"] == "exception" and exception["subject"] == "Standup (moved)"


def test_calendar_view_delta_needs_a_window_and_refuses_select(api: GraphApi) -> None:
    missing = api.get("/v1.0/me/calendarView/delta").json()["error"]
    assert missing["code"] == "ErrorInvalidParameter"
    refused = api.get(_view() + "&$select=subject").json()["error"]
    assert refused["code"] == "ErrorInvalidUrlQuery" and "$select" in refused["message"]


def test_transaction_id_makes_event_creation_idempotent(graph: RunningGraph, api: GraphApi) -> None:
    body = event_json("Demo", NOW + timedelta(days=2), transactionId="rgsync-00U000000000001AAA-1")
    first = api.post("/v1.0/me/events", body).json()
    again = api.post("/v1.0/me/events", body).json()
    assert first["id"] == again["id"] and len(graph.state.events()) == 1
    changed = api.patch(f"/v1.0/me/events/{first['id']}", {"transactionId": "other"})
    assert changed.status_code == 400


def test_requests_that_would_notify_attendees_are_recorded_never_sent(
    graph: RunningGraph, api: GraphApi
) -> None:
    quiet = api.post("/v1.0/me/events", event_json("Solo", NOW + timedelta(days=1))).json()
    api.patch(f"/v1.0/me/events/{quiet['id']}", {"subject": "Solo 2"})
    assert graph.state.notifications == []
    attendee = [{"emailAddress": {"address": "bob@globex.com"}, "type": "required"}]
    meeting = api.post(
        "/v1.0/me/events", event_json("Meet", NOW + timedelta(days=2), attendees=attendee)
    ).json()
    api.patch(f"/v1.0/me/events/{meeting['id']}", {"location": {"displayName": "Room 2"}})
    api.delete(f"/v1.0/me/events/{meeting['id']}")
    assert [(n.kind, n.recipients) for n in graph.state.notifications] == [
        ("invitation", ("bob@globex.com",)),
        ("update", ("bob@globex.com",)),
        ("cancellation", ("bob@globex.com",)),
    ]


def test_events_are_found_by_extended_property(graph: RunningGraph, api: GraphApi) -> None:
    tagged = api.post(
        "/v1.0/me/events",
        event_json("Tagged", NOW, singleValueExtendedProperties=[{"id": TAG, "value": "00U1"}]),
    ).json()
    api.post("/v1.0/me/events", event_json("Plain", NOW))
    found = api.get(
        f"/v1.0/me/events?$filter=singleValueExtendedProperties/any(ep: ep/id eq '{TAG}' and ep/value eq '00U1')"
    ).json()["value"]
    assert [e["id"] for e in found] == [tagged["id"]]
    expanded = api.get(
        f"/v1.0/me/events/{tagged['id']}?$expand=singleValueExtendedProperties($filter=id eq '{TAG}')"
    ).json()
    assert expanded["singleValueExtendedProperties"] == [{"id": TAG, "value": "00U1"}]
    bad = api.post(
        "/v1.0/me/events",
        event_json("Bad", NOW, singleValueExtendedProperties=[{"id": "rgsync", "value": "x"}]),
    )
    assert bad.status_code == 400


def test_all_day_events_must_run_midnight_to_midnight(api: GraphApi) -> None:
    ok = api.post(
        "/v1.0/me/events",
        {
            "subject": "Off",
            "isAllDay": True,
            "start": {"dateTime": "2026-12-01T00:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-02T00:00:00", "timeZone": "Europe/Berlin"},
        },
    )
    assert ok.status_code == 201
    shown = api.get(_view(), prefer='IdType="ImmutableId", outlook.timezone="UTC"').json()["value"][0]
    assert shown["isAllDay"] and shown["start"]["dateTime"].startswith("2026-12-01T00:00:00")
    bad = api.post(
        "/v1.0/me/events",
        {
            "subject": "Bad",
            "isAllDay": True,
            "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-02T00:00:00", "timeZone": "UTC"},
        },
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "ErrorPropertyValidationFailure"


# -- contacts and To Do -------------------------------------------------------------------------------


def test_contact_folders_and_contact_delta(graph: RunningGraph, api: GraphApi) -> None:
    folder = api.post("/v1.0/me/contactFolders", {"displayName": "Salesforce Contacts"}).json()
    assert api.post("/v1.0/me/contactFolders", {"displayName": "Salesforce Contacts"}).status_code == 409
    found = api.get("/v1.0/me/contactFolders?$filter=displayName eq 'Salesforce Contacts'").json()["value"]
    assert [f["id"] for f in found] == [folder["id"]]
    created = api.post(
        f"/v1.0/me/contactFolders/{folder['id']}/contacts",
        {"givenName": "Bob", "surname": "Baker", "emailAddresses": [{"address": "bob@globex.com"}]},
    ).json()
    assert created["displayName"] == "Bob Baker"
    unknown = api.post(f"/v1.0/me/contactFolders/{folder['id']}/contacts", {"nickname": "B"})
    assert unknown.json()["error"]["code"] == "RequestBodyRead"
    rows, delta = api.all_pages(f"/v1.0/me/contactFolders/{folder['id']}/contacts/delta?$select=givenName")
    assert rows == [{"id": created["id"], "givenName": "Bob", "@odata.etag": created["@odata.etag"]}]
    api.delete(f"/v1.0/me/contacts/{created['id']}")
    assert api.all_pages(delta)[0][0]["@removed"] == {"reason": "deleted"}
    assert api.get(f"/v1.0/me/contactFolders/{folder['id']}/contacts/delta?$expand=x").status_code == 400


def test_todo_lists_tasks_delta_and_linked_resources(graph: RunningGraph, api: GraphApi) -> None:
    lists = [entry["displayName"] for entry in api.get("/v1.0/me/todo/lists").json()["value"]]
    assert lists == ["Tasks", "Flagged Emails"]
    todo = api.post("/v1.0/me/todo/lists", {"displayName": "Salesforce Tasks"}).json()
    task = api.post(
        f"/v1.0/me/todo/lists/{todo['id']}/tasks",
        {
            "title": "Call",
            "dueDateTime": {"dateTime": "2026-12-01T00:00:00", "timeZone": "UTC"},
            "linkedResources": [{"applicationName": "Salesforce", "externalId": "00T1"}],
        },
    ).json()
    rows, delta = api.all_pages(f"/v1.0/me/todo/lists/{todo['id']}/tasks/delta?$expand=linkedResources")
    assert [(r["title"], r["linkedResources"][0]["externalId"]) for r in rows] == [("Call", "00T1")]
    api.patch(f"/v1.0/me/todo/lists/{todo['id']}/tasks/{task['id']}", {"status": "completed"})
    [changed] = api.all_pages(delta)[0]
    assert changed["status"] == "completed" and "completedDateTime" in changed
    assert (
        api.post(f"/v1.0/me/todo/lists/{todo['id']}/tasks", {"title": "x", "owner": "me"}).status_code == 400
    )


# -- $batch -------------------------------------------------------------------------------------------


def test_batch_answers_each_request_and_throttles_inside_a_successful_batch(
    graph: RunningGraph, api: GraphApi
) -> None:
    graph.state.throttle_in_batch(r"^POST /me/events$", nth=2, retry_after=4)
    requests_ = [
        {
            "id": str(n),
            "method": "POST",
            "url": "/me/events",
            "headers": {"Content-Type": "application/json"},
            "body": event_json(f"E{n}", NOW),
        }
        for n in range(1, 4)
    ] + [
        {"id": "4", "method": "GET", "url": "/me/events/nope"},
        {"id": "5", "method": "GET", "url": "/me", "dependsOn": ["4"]},
    ]
    response = api.post("/v1.0/$batch", {"requests": requests_})
    assert response.status_code == 200
    answers = {a["id"]: a for a in response.json()["responses"]}
    assert [answers[str(n)]["status"] for n in range(1, 6)] == [201, 429, 201, 404, 424]
    assert (
        answers["2"]["headers"]["Retry-After"] == "4"
        and answers["2"]["body"]["error"]["code"] == "TooManyRequests"
    )
    assert graph.server.calls["graph.batch"] == 1 and graph.server.calls["batch:graph.events.create"] == 3
    assert sorted(e["subject"] for e in graph.state.events()) == ["E1", "E3"]


def test_batch_refuses_more_than_twenty_requests_and_bodies_without_a_content_type(api: GraphApi) -> None:
    many = [{"id": str(n), "method": "GET", "url": "/me"} for n in range(21)]
    assert api.post("/v1.0/$batch", {"requests": many}).status_code == 400
    no_type = api.post(
        "/v1.0/$batch", {"requests": [{"id": "1", "method": "POST", "url": "/me/events", "body": {}}]}
    )
    assert no_type.status_code == 400


# -- faults, counters, scenarios -------------------------------------------------------------------------


def test_faults_throttle_fail_and_count_per_route(graph: RunningGraph, api: GraphApi) -> None:
    graph.inject_throttling(r"/messages/delta", retry_after=9)
    throttled = api.get("/v1.0/me/mailFolders/inbox/messages/delta")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "9"
    graph.fail_nth(r"/todo/lists", nth=2, status=503)
    assert api.get("/v1.0/me/todo/lists").status_code == 200
    assert api.get("/v1.0/me/todo/lists").status_code == 503
    graph.inject_5xx(r"/contactFolders", status=504)
    assert api.get("/v1.0/me/contactFolders").json()["error"]["code"] == "GatewayTimeout"
    assert graph.server.calls["graph.messages.delta"] == 1 and graph.server.calls["graph.todoLists.list"] == 2


def test_a_google_shaped_scenario_loads_as_outlook_sees_it(tmp_path: Path) -> None:
    scenario = {
        "user": {"address": "ann@acme.com", "name": "Ann Smith", "time_zone": "Europe/Berlin"},
        "messages": [
            {"raw": raw_email("In"), "labels": ["INBOX", "Salesforce"], "thread": "t1"},
            {
                "raw": raw_email("Out", sender="ann@acme.com", to="bob@globex.com"),
                "labels": ["SENT"],
                "thread": "t1",
            },
            {"raw": raw_email("Spam"), "labels": ["SPAM"]},
        ],
        "events": [
            {
                "summary": "Review",
                "start": {"dateTime": "2026-12-01T10:00:00+01:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2026-12-01T11:00:00+01:00", "timeZone": "Europe/Berlin"},
                "organizer": {"email": "bob@globex.com"},
                "attendees": [
                    {"email": "bob@globex.com", "organizer": True, "responseStatus": "accepted"},
                    {"email": "ann@acme.com", "self": True, "responseStatus": "tentative"},
                ],
                "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=2"],
                "iCalUID": "review@scenario.invalid",
            }
        ],
        "tasks": {
            "Salesforce Tasks": [
                {"title": "Call Bob", "due": "2026-12-03T00:00:00.000Z", "status": "needsAction"}
            ]
        },
        "contacts": [
            {
                "names": [{"givenName": "Bob", "familyName": "Baker"}],
                "emailAddresses": [{"value": "bob@globex.com"}],
                "organizations": [{"name": "Globex"}],
            }
        ],
    }
    for graph in running(tmp_path, scenario):
        state = graph.state
        inbox, sent = state.mail.in_folder("inbox"), state.mail.in_folder("sentitems")
        assert [m.resource["subject"] for m in inbox] == ["In"] and inbox[0].categories == ["Salesforce"]
        assert inbox[0].resource["conversationId"] == sent[0].resource["conversationId"]
        assert [m.resource["subject"] for m in state.mail.in_folder("junkemail")] == ["Spam"]
        [review] = state.events()
        assert (
            review["responseStatus"]["response"] == "tentativelyAccepted" and review["type"] == "seriesMaster"
        )
        assert (
            review["iCalUId"] == "review@scenario.invalid"
            and review["organizer"]["emailAddress"]["address"] == "bob@globex.com"
        )
        [task] = state.tasks("Salesforce Tasks")
        assert task["title"] == "Call Bob" and task["dueDateTime"]["dateTime"].startswith("2026-12-03")
        [contact] = state.contacts()
        assert (contact["givenName"], contact["companyName"]) == ("Bob", "Globex")
        rows, _ = GraphApi(graph).all_pages(_view())
        assert len(rows) == 2 and all(r["seriesMasterId"] for r in rows)


def test_the_emulator_runs_on_its_own_and_refuses_a_missing_scenario_file(tmp_path: Path) -> None:
    from rgsync.sandbox.graph.__main__ import main

    with pytest.raises(SystemExit, match=r"Cannot read the scenario file .*none\.json"):
        main(["--scenario", str(tmp_path / "none.json")])
