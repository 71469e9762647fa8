"""The Tasks emulator driven through the real google-api-python-client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from rgsync.sandbox.google import RunningGoogle, start_google
from rgsync.sandbox.google.common import rfc3339
from tests.sandbox.google_harness import Clock, service


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
    server.reset(
        scenario={"tasks": {"Salesforce Tasks": [{"title": "Call Bob", "due": "2026-12-01T00:00:00.000Z"}]}},
        clock=clock,
    )
    return server


@pytest.fixture
def api(google: RunningGoogle) -> Any:
    return service(google, "tasks")


def list_id(api: Any, title: str) -> str:
    lists = api.tasklists().list().execute()["items"]
    return next(item["id"] for item in lists if item["title"] == title)


def titles(api: Any, tasklist: str, **params: Any) -> list[str]:
    found: list[str] = []
    token = None
    while True:
        page = api.tasks().list(tasklist=tasklist, pageToken=token, **params).execute()
        found += [t["title"] for t in page.get("items", [])]
        token = page.get("nextPageToken")
        if not token:
            return found


def test_scenario_lists_and_tasklist_insert(api: Any) -> None:
    assert [item["title"] for item in api.tasklists().list().execute()["items"]] == [
        "My Tasks",
        "Salesforce Tasks",
    ]
    created = api.tasklists().insert(body={"title": "Follow-ups"}).execute()
    assert created["kind"] == "tasks#taskList" and created["title"] == "Follow-ups"
    assert titles(api, list_id(api, "Salesforce Tasks")) == ["Call Bob"]


def test_due_keeps_the_date_only(api: Any) -> None:
    tasklist = list_id(api, "Salesforce Tasks")
    task = (
        api.tasks()
        .insert(tasklist=tasklist, body={"title": "Send quote", "due": "2026-12-04T17:45:00+01:00"})
        .execute()
    )
    assert task["due"] == "2026-12-04T00:00:00.000Z"
    assert api.tasks().get(tasklist=tasklist, task=task["id"]).execute()["due"] == "2026-12-04T00:00:00.000Z"
    with pytest.raises(HttpError) as refused:
        api.tasks().insert(tasklist=tasklist, body={"title": "x", "due": "tomorrow"}).execute()
    assert refused.value.resp.status == 400


def test_completing_stamps_completed_and_reopening_clears_it(api: Any, clock: Clock) -> None:
    tasklist = list_id(api, "Salesforce Tasks")
    task = api.tasks().insert(tasklist=tasklist, body={"title": "Demo"}).execute()
    assert task["status"] == "needsAction" and "completed" not in task
    clock.advance(hours=1)
    done = api.tasks().patch(tasklist=tasklist, task=task["id"], body={"status": "completed"}).execute()
    assert done["completed"] == rfc3339(clock.now) == done["updated"]
    reopened = api.tasks().patch(tasklist=tasklist, task=task["id"], body={"status": "needsAction"}).execute()
    assert "completed" not in reopened
    assert titles(api, tasklist, showCompleted=False) == ["Demo", "Call Bob"]


def test_incremental_read_with_updated_min_show_deleted_and_show_hidden(api: Any, clock: Clock) -> None:
    tasklist = list_id(api, "Salesforce Tasks")
    old = api.tasks().insert(tasklist=tasklist, body={"title": "Old"}).execute()
    finished = (
        api.tasks().insert(tasklist=tasklist, body={"title": "Finished", "status": "completed"}).execute()
    )
    since = rfc3339(clock.advance(minutes=10))
    changed = api.tasks().patch(tasklist=tasklist, task=old["id"], body={"notes": "called"}).execute()
    assert changed["updated"] == since
    api.tasks().delete(tasklist=tasklist, task=finished["id"]).execute()
    assert titles(api, tasklist, updatedMin=since) == ["Old"]
    assert titles(api, tasklist, updatedMin=since, showDeleted=True) == ["Finished", "Old"]
    deleted = api.tasks().get(tasklist=tasklist, task=finished["id"]).execute()
    assert deleted["deleted"] is True
    api.tasks().patch(tasklist=tasklist, task=old["id"], body={"status": "completed"}).execute()
    api.tasks().clear(tasklist=tasklist).execute()
    assert "Old" not in titles(api, tasklist)
    hidden = titles(api, tasklist, showHidden=True)
    assert "Old" in hidden and "Finished" not in hidden


def test_paging_caps_max_results_at_100(google: RunningGoogle, api: Any) -> None:
    for number in range(105):
        google.state.add_task("Bulk", {"title": f"T{number:03d}"})
    tasklist = list_id(api, "Bulk")
    first = api.tasks().list(tasklist=tasklist, maxResults=500).execute()
    assert len(first["items"]) == 100 and "nextPageToken" in first
    assert len(titles(api, tasklist, maxResults=100)) == 105
    assert len(api.tasks().list(tasklist=tasklist).execute()["items"]) == 20


def test_unknown_list_and_task_are_404(api: Any) -> None:
    with pytest.raises(HttpError) as no_list:
        api.tasks().list(tasklist="nope").execute()
    assert no_list.value.resp.status == 404
    with pytest.raises(HttpError) as no_task:
        api.tasks().get(tasklist="@default", task="nope").execute()
    assert no_task.value.resp.status == 404
