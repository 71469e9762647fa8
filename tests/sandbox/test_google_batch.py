"""The batch endpoints driven through googleapiclient's own BatchHttpRequest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httplib2
import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from rgsync.sandbox.google import RunningGoogle, start_google
from rgsync.sandbox.http import Fault
from tests.sandbox.google_harness import Clock, authorized_http, new_batch, service


@pytest.fixture(scope="module")
def server() -> Iterator[RunningGoogle]:
    running = start_google()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def google(server: RunningGoogle) -> RunningGoogle:
    server.reset(clock=Clock())
    return server


def message(number: int) -> str:
    return f"From: bob@globex.com\r\nTo: ann@acme.com\r\nSubject: m{number}\r\n\r\nbody {number}\r\n"


class Collector:
    """Collects batch callbacks by request id."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.errors: dict[str, HttpError] = {}

    def __call__(self, request_id: str, response: Any, exception: Exception | None) -> None:
        if exception is not None:
            assert isinstance(exception, HttpError)
            self.errors[request_id] = exception
        else:
            self.results[request_id] = response


def test_gmail_batch_round_trip_counts_each_inner_call(google: RunningGoogle) -> None:
    ids = [google.state.add_message(message(n)) for n in range(3)]
    gmail = service(google, "gmail").users()
    collected = Collector()
    batch = new_batch(google, "gmail", collected)
    for message_id in [*ids, "0000000000000000"]:
        batch.add(
            gmail.messages().get(userId="me", id=message_id, format="metadata", metadataHeaders=["Subject"])
        )
    batch.execute()
    assert [collected.results[str(n)]["id"] for n in (1, 2, 3)] == ids
    assert collected.results["2"]["payload"]["headers"] == [{"name": "Subject", "value": "m1"}]
    assert collected.errors["4"].resp.status == 404
    assert google.server.calls["batch"] == 1
    assert google.server.calls["gmail.messages.get"] == 4


def test_a_rate_limited_part_fails_alone(google: RunningGoogle) -> None:
    ids = [google.state.add_message(message(n)) for n in range(3)]
    google.inject_rate_limit(match=f"/messages/{ids[1]}$", times=1)
    gmail = service(google, "gmail").users()
    collected = Collector()
    batch = new_batch(google, "gmail", collected)
    for message_id in ids:
        batch.add(gmail.messages().get(userId="me", id=message_id, format="minimal"))
    batch.execute()
    assert set(collected.results) == {"1", "3"}
    error = collected.errors["2"]
    assert error.resp.status == 429
    assert json.loads(error.content)["error"]["errors"][0]["reason"] == "rateLimitExceeded"


def test_the_nth_inner_call_can_be_failed(google: RunningGoogle) -> None:
    ids = [google.state.add_message(message(n)) for n in range(3)]
    google.fail_nth(match="GET /gmail/v1/users/me/messages/", nth=3, status=503)
    gmail = service(google, "gmail").users()
    collected = Collector()
    batch = new_batch(google, "gmail", collected)
    for message_id in ids:
        batch.add(gmail.messages().get(userId="me", id=message_id))
    batch.execute()
    assert set(collected.results) == {"1", "2"} and collected.errors["3"].resp.status == 503


def test_gmail_batches_over_100_calls_are_refused(google: RunningGoogle) -> None:
    gmail = service(google, "gmail").users()
    batch = new_batch(google, "gmail", Collector())
    for _ in range(101):
        batch.add(gmail.getProfile(userId="me"))
    with pytest.raises(HttpError) as refused:
        batch.execute()
    assert refused.value.resp.status == 400
    assert (
        "Inner request count exceeds the limit. Received: 101, Limit: 100" in refused.value.content.decode()
    )
    assert google.server.calls["gmail.getProfile"] == 0


def test_calendar_batch_inserts_with_bodies_and_send_updates(google: RunningGoogle) -> None:
    events = service(google, "calendar").events()
    collected = Collector()
    batch = new_batch(google, "calendar", collected)
    for number in range(3):
        body = {
            "id": f"evt000{number}",
            "summary": f"E{number}",
            "start": {"dateTime": f"2026-12-0{number + 1}T10:00:00Z"},
            "end": {"dateTime": f"2026-12-0{number + 1}T11:00:00Z"},
        }
        batch.add(events.insert(calendarId="primary", body=body, sendUpdates="none"))
    batch.execute()
    assert [collected.results[str(n)]["summary"] for n in (1, 2, 3)] == ["E0", "E1", "E2"]
    assert google.state.calendar.send_updates_log == [("insert", f"evt000{n}", "none") for n in range(3)]
    assert google.server.calls["calendar.events.insert"] == 3


def test_tasks_and_people_batches_and_the_shared_endpoint(google: RunningGoogle) -> None:
    tasks = service(google, "tasks")
    collected = Collector()
    batch = new_batch(google, "tasks", collected)
    batch.add(tasks.tasks().insert(tasklist="@default", body={"title": "Call Bob"}))
    batch.add(tasks.tasklists().list())
    batch.execute()
    assert collected.results["1"]["title"] == "Call Bob" and collected.results["2"]["items"]
    people = service(google, "people")
    shared = Collector()
    legacy = BatchHttpRequest(callback=shared, batch_uri=google.url + "/batch")
    legacy.add(people.people().createContact(body={"names": [{"givenName": "Carol"}]}))
    legacy.add(people.contactGroups().list())
    legacy.execute()
    assert shared.results["1"]["resourceName"].startswith("people/c")
    assert google.server.calls["batch"] == 2 and google.server.calls["people.createContact"] == 1


def test_batch_parts_without_credentials_are_401(google: RunningGoogle) -> None:
    body = (
        "--XYZ\r\nContent-Type: application/http\r\nContent-ID: <abc + 1>\r\n\r\n"
        "GET /gmail/v1/users/me/profile HTTP/1.1\r\n\r\n\r\n--XYZ--\r\n"
    )
    headers = {"Content-Type": 'multipart/mixed; boundary="XYZ"'}
    response, content = httplib2.Http().request(
        google.url + "/batch/gmail/v1", "POST", body=body, headers=headers
    )
    assert response.status == 200
    text = content.decode()
    assert "Content-ID: <response-abc + 1>" in text and "HTTP/1.1 401 Unauthorized" in text
    authorized = {**headers, "Authorization": f"Bearer {google.token}"}
    _, content = authorized_http(google.token).request(
        google.url + "/batch/gmail/v1", "POST", body=body, headers=authorized
    )
    assert "HTTP/1.1 200 OK" in content.decode()  # the outer Authorization applies to every part


def test_a_dropped_connection_is_resent_once_by_httplib2_then_surfaces(google: RunningGoogle) -> None:
    gmail = service(google, "gmail").users()
    google.drop_connection_nth(match="/profile$", nth=1)
    assert gmail.getProfile(userId="me").execute()["emailAddress"] == "ann@acme.com"
    assert google.server.calls["gmail.getProfile"] == 2
    google.server.faults.add(Fault(match="/profile$", drop=True, times=2))
    with pytest.raises((ConnectionError, httplib2.HttpLib2Error, OSError)):
        gmail.getProfile(userId="me").execute()
