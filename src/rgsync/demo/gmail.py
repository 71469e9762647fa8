"""The Gmail side of the sandbox: the Google emulator started for a scenario, the profile that
points the Gmail adapter at it, and the demo's reader and mailbox changes through the Gmail,
Calendar, Tasks and People REST APIs, as any client would use them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from rgsync.demo.kinds import MailboxSide, RunningSandbox
from rgsync.demo.scenarios import bob_reply
from rgsync.sandbox.google import RunningGoogle, start_google
from rgsync.sandbox.scenario import Scenario


def start(scenario: Scenario, _directory: Path) -> RunningGoogle:
    """Start the emulator loaded with the scenario's mailbox (plain HTTP: no TLS files needed)."""
    return start_google(scenario=scenario.google_scenario())


def settings(running: RunningGoogle) -> dict[str, Any]:
    """The `[mailbox]` keys that point the Gmail adapter at the emulator."""
    return {"gmail-api-url": running.url.rstrip("/") + "/"}


def secrets(running: RunningGoogle) -> dict[str, str]:
    """A refreshable sign-in, as `rgsync connect gmail` stores it: the adapter renews an expired
    access token at the emulator's token endpoint, and a revoked one fails as it would for real."""
    from rgsync.providers.google.auth import TOKEN

    return {TOKEN: json.dumps(running.authorized_user())}


def endpoints(running: RunningGoogle) -> dict[str, Any]:
    """What endpoints.json says about the emulator (for scripts using the Google APIs directly)."""
    base = running.url.rstrip("/")
    return {
        "url": base,
        "access_token": running.token,
        "address": running.address,
        "gmail_api_url": base + "/",
        "calendar_api_url": base + "/calendar/v3/",
    }


def reader(sandbox: RunningSandbox) -> GoogleReader:
    """The demo's reader of the emulated Gmail mailbox."""
    return GoogleReader(sandbox.mailbox)


def mailbox_edits(sandbox: RunningSandbox) -> list[str]:
    """Bob's reply arrives (Gmail messages.insert) and the renewal review moves by an hour to a new
    room (Calendar events.patch, no updates sent)."""
    scenario = sandbox.scenario
    zone = ZoneInfo(scenario.user.time_zone)
    google = GoogleReader(sandbox.mailbox)
    message = bob_reply(scenario)
    raw = base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
    google.send("POST", "/gmail/v1/users/me/messages", {"raw": raw, "labelIds": ["INBOX", "UNREAD"]})
    edits = [f"Gmail: a new email from Bob arrived: “{message['Subject']}” (Gmail API messages.insert)"]
    review = next((e for e in scenario.calendar if e.get("key") == "renewal-review"), None)
    if review is None:
        return edits
    found = google.get("/calendar/v3/calendars/primary/events", iCalUID=review["iCalUID"]).get("items") or []
    if not found:
        return edits
    event = found[0]
    start = datetime.fromisoformat(event["start"]["dateTime"]) + timedelta(hours=1)
    end = datetime.fromisoformat(event["end"]["dateTime"]) + timedelta(hours=1)
    google.send(
        "PATCH",
        f"/calendar/v3/calendars/primary/events/{event['id']}",
        {
            "start": {"dateTime": start.isoformat(), "timeZone": scenario.user.time_zone},
            "end": {"dateTime": end.isoformat(), "timeZone": scenario.user.time_zone},
            "location": "Globex HQ, room 4.12",
        },
        sendUpdates="none",
    )
    edits.append(
        f"Calendar: “{event.get('summary')}” moved to {start.astimezone(zone):%a %H:%M}, new room (Calendar API events.patch)"
    )
    return edits


class GoogleReader:
    """Reads the emulated mailbox through the Google REST APIs (as any client would)."""

    def __init__(self, running: RunningGoogle) -> None:
        self.base = running.url.rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {running.token}"
        self.now = datetime.now(UTC)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(self.base + path, params=params, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def send(self, method: str, path: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = self.http.request(method, self.base + path, json=body, params=params, timeout=10)
        response.raise_for_status()
        return dict(response.json()) if response.content else {}

    def pages(self, path: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = self.get(path, **params, **({"pageToken": token} if token else {}))
            yield from page.get(key) or []
            token = page.get("nextPageToken")
            if not token:
                return

    def events(self) -> list[dict[str, Any]]:
        return list(
            self.pages(
                "/calendar/v3/calendars/primary/events",
                "items",
                singleEvents="true",
                timeMin=(self.now - timedelta(days=30)).isoformat(),
                timeMax=(self.now + timedelta(days=90)).isoformat(),
                maxResults=250,
            )
        )

    def tasks(self, list_title: str) -> list[dict[str, Any]]:
        for task_list in self.pages("/tasks/v1/users/@me/lists", "items"):
            if task_list.get("title") == list_title:
                return list(
                    self.pages(
                        f"/tasks/v1/lists/{task_list['id']}/tasks",
                        "items",
                        showCompleted="true",
                        showHidden="true",
                    )
                )
        return []

    def contacts(self, group_name: str) -> list[dict[str, Any]]:
        groups = self.get("/v1/contactGroups").get("contactGroups") or []
        group = next(
            (g for g in groups if g.get("name") == group_name or g.get("formattedName") == group_name), None
        )
        if group is None:
            return []
        people = self.pages(
            "/v1/people/me/connections",
            "connections",
            personFields="names,emailAddresses,memberships",
            pageSize=200,
        )
        wanted = group["resourceName"]
        return [
            p
            for p in people
            if any(
                (m.get("contactGroupMembership") or {}).get("contactGroupResourceName") == wanted
                for m in p.get("memberships") or []
            )
        ]


SIDE = MailboxSide(
    start=start,
    settings=settings,
    secrets=secrets,
    endpoints=endpoints,
    reader=reader,
    edit=mailbox_edits,
)
