"""Scenario loading and the foreground server (`python -m rgsync.sandbox.google`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httplib2

from rgsync.sandbox.google import start_google
from tests.sandbox.google_harness import service

SCENARIO: dict[str, Any] = {
    "user": {"address": "ann@acme.com", "timeZone": "Europe/Berlin"},
    "messages": [
        {
            "raw": "From: bob@globex.com\r\nTo: ann@acme.com\r\nSubject: Hi\r\n\r\nHello\r\n",
            "labels": ["INBOX", "Clients"],
            "thread": "t1",
        },
        {
            "raw": "From: ann@acme.com\r\nTo: bob@globex.com\r\nSubject: Re: Hi\r\n\r\nHi Bob\r\n",
            "labels": ["SENT"],
            "thread": "t1",
        },
    ],
    "events": [
        {
            "id": "demo00001",
            "summary": "Globex demo",
            "start": {"dateTime": "2026-12-01T10:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-01T11:00:00+01:00", "timeZone": "Europe/Berlin"},
        }
    ],
    "tasks": {"Salesforce Tasks": [{"title": "Send the quote", "due": "2026-12-02T00:00:00.000Z"}]},
    "contacts": [
        {
            "names": [{"givenName": "Bob", "familyName": "Stone"}],
            "emailAddresses": [{"value": "bob@globex.com"}],
        }
    ],
}


def test_a_scenario_loads_into_all_four_apis() -> None:
    google = start_google(scenario=SCENARIO)
    try:
        gmail = service(google, "gmail").users()
        listed = gmail.messages().list(userId="me").execute()["messages"]
        assert len(listed) == 2 and listed[0]["threadId"] == listed[1]["threadId"]
        assert "Clients" in {label["name"] for label in gmail.labels().list(userId="me").execute()["labels"]}
        event = (
            service(google, "calendar").events().get(calendarId="ann@acme.com", eventId="demo00001").execute()
        )
        assert event["summary"] == "Globex demo"
        tasks = service(google, "tasks")
        lists = {item["title"]: item["id"] for item in tasks.tasklists().list().execute()["items"]}
        assert (
            tasks.tasks().list(tasklist=lists["Salesforce Tasks"]).execute()["items"][0]["title"]
            == "Send the quote"
        )
        people = (
            service(google, "people")
            .people()
            .connections()
            .list(resourceName="people/me", personFields="names")
            .execute()
        )
        assert people["connections"][0]["names"][0]["displayName"] == "Bob Stone"
    finally:
        google.stop()


def _serve_in_foreground(*args: str) -> subprocess.Popen[str]:
    """`python -m rgsync.sandbox.google ARGS`, its output read line by line as it is printed."""
    return subprocess.Popen(
        [sys.executable, "-m", "rgsync.sandbox.google", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_module_serves_in_the_foreground_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO), encoding="utf-8")
    process = _serve_in_foreground("--scenario", str(scenario), "--token", "demo-token")
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        assert process.stdout.readline().strip() == "Bearer token: demo-token"
        response, content = httplib2.Http(timeout=5).request(
            url + "/gmail/v1/users/me/profile", headers={"Authorization": "Bearer demo-token"}
        )
        assert response.status == 200 and json.loads(content)["messagesTotal"] == 2
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_module_refuses_a_missing_scenario_file_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rgsync.sandbox.google", "--scenario", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert (
        result.stderr.strip().startswith("Cannot read the scenario file") and "Traceback" not in result.stderr
    )


def test_ctrl_c_as_soon_as_the_url_is_printed_still_stops_cleanly(tmp_path: Path) -> None:
    """A script that starts the emulator may signal it the moment it has read the URL, while the
    emulator is still printing its other lines: that stops it cleanly too (exit 0, "Stopped.")."""
    process = _serve_in_foreground("--token", "demo-token")
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Google emulator serving at http://127.0.0.1:")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert out.strip().endswith("Stopped.")
        assert "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
