"""The Microsoft 365 side of the sandbox: the Graph emulator started for a scenario, the profile
that points the Microsoft 365 adapter at it, and the demo's reader and mailbox changes through
Graph, as the user would make them in Outlook.

The profile signs in the way a user would (msal's device-code flow, which the emulator approves by
itself), so the sandbox profile runs the adapter's real sign-in path.

`GraphReader` answers in the shapes the demo already prints for Gmail (Calendar events with
`summary`/`start`, Tasks with `title`/`status`/`due`, People with `names`/`emailAddresses`), so one
snapshot tells both mailboxes. `mailbox_edits` delivers Bob's reply (through the emulator, as the
mail server would: Graph has no call that delivers a received email) and moves the renewal review
by an hour with a Graph PATCH.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from rgsync.demo.kinds import MailboxSide, RunningSandbox
from rgsync.demo.scenarios import bob_reply
from rgsync.sandbox.graph import RunningGraph, start_graph
from rgsync.sandbox.scenario import Scenario

PREFER = 'IdType="ImmutableId", outlook.timezone="UTC"'


def start(scenario: Scenario, directory: Path) -> RunningGraph:
    """Start the emulator loaded with a scenario (`Scenario.google_scenario()`'s data)."""
    return start_graph(Path(directory), scenario=scenario.google_scenario())


def settings(running: RunningGraph) -> dict[str, Any]:
    """The `[mailbox]` keys that point the Microsoft 365 adapter at the emulator."""
    return {
        "graph-url": running.graph_url,
        "authority-url": running.url,
        "tenant-id": running.tenant_id,
        "client-id": running.client_id,
        "ca-file": str(running.ca_file),
    }


def secrets(running: RunningGraph) -> dict[str, str]:
    """The credentials the adapter reads: msal's token cache after a device-code sign-in."""
    from rgsync.providers.microsoft365.auth import (
        TOKEN_CACHE,
        SignInConfig,
        http_session,
        start_device_sign_in,
    )

    config = SignInConfig(running.client_id, running.authority, str(running.ca_file))
    started = start_device_sign_in(config, None, http_session(config.ca_file))
    started.wait(sleep=lambda _seconds: None)
    return {TOKEN_CACHE: started.serialized_cache}


def endpoints(running: RunningGraph) -> dict[str, Any]:
    """What endpoints.json says about the emulator (for scripts using Graph directly)."""
    return {
        "url": running.url,
        "graph_url": running.graph_url,
        "authority": running.authority,
        "tenant_id": running.tenant_id,
        "client_id": running.client_id,
        "client_secret": running.client_secret,
        "ca_file": str(running.ca_file),
        "access_token": running.token,
        "address": running.address,
    }


class GraphReader:
    """Reads (and patches) the emulated mailbox through Graph, as any client would."""

    def __init__(self, running: RunningGraph) -> None:
        self.base = running.graph_url
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = str(running.ca_file)
        self.http.headers.update({"Authorization": f"Bearer {running.token}", "Prefer": PREFER})
        self.now = datetime.now(UTC)

    def pages(self, path: str, **params: str) -> Iterator[dict[str, Any]]:
        """Every row of a collection or a delta round, following its links."""
        link: str | None = self.base + path
        query: dict[str, str] | None = params
        while link:
            response = self.http.get(link, params=query, timeout=10)
            response.raise_for_status()
            body = response.json()
            yield from body.get("value") or []
            link, query = body.get("@odata.nextLink"), None

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH a resource and return Graph's answer."""
        response = self.http.patch(self.base + path, json=body, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def events(self) -> list[dict[str, Any]]:
        """The calendar view around now, as Calendar API events (id, summary, start)."""
        rows = self.pages(
            "/me/calendarView/delta",
            startDateTime=(self.now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            endDateTime=(self.now + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        out = []
        for row in rows:
            if "@removed" in row:
                continue
            start = str(row["start"]["dateTime"])[:19]
            when = {"date": start[:10]} if row.get("isAllDay") else {"dateTime": start + "+00:00"}
            out.append({"id": row["id"], "summary": row.get("subject", ""), "start": when})
        return out

    def tasks(self, list_title: str) -> list[dict[str, Any]]:
        """The tasks of a To Do list, as Google Tasks (title, status, due)."""
        for entry in self.pages("/me/todo/lists"):
            if entry.get("displayName") == list_title:
                out = []
                for task in self.pages(f"/me/todo/lists/{entry['id']}/tasks"):
                    item: dict[str, Any] = {
                        "title": task.get("title", ""),
                        "status": "completed" if task.get("status") == "completed" else "needsAction",
                    }
                    if task.get("dueDateTime"):
                        item["due"] = str(task["dueDateTime"]["dateTime"])[:10] + "T00:00:00.000Z"
                    out.append(item)
                return out
        return []

    def contacts(self, folder_name: str) -> list[dict[str, Any]]:
        """The contacts of a folder, as People API persons (names, emailAddresses)."""
        for folder in self.pages("/me/contactFolders"):
            if folder.get("displayName") == folder_name:
                return [
                    {
                        "names": [
                            {
                                "displayName": c.get("displayName", ""),
                                "givenName": c.get("givenName"),
                                "familyName": c.get("surname"),
                            }
                        ],
                        "emailAddresses": [
                            {"value": e.get("address")} for e in c.get("emailAddresses") or []
                        ],
                    }
                    for c in self.pages(f"/me/contactFolders/{folder['id']}/contacts")
                ]
        return []


def mailbox_edits(sandbox: RunningSandbox) -> list[str]:
    """Bob's reply arrives and the renewal review moves by an hour (see the module docstring)."""
    running: RunningGraph = sandbox.mailbox
    scenario = sandbox.scenario
    zone = ZoneInfo(scenario.user.time_zone)
    edits: list[str] = []
    message = bob_reply(scenario)
    running.state.add_message(message.as_bytes(), "inbox")
    edits.append(
        f"Microsoft 365: a new email from Bob arrived: “{message['Subject']}” (delivered to the Inbox)"
    )
    review = next((e for e in scenario.calendar if e.get("key") == "renewal-review"), None)
    if review is None:
        return edits
    reader = GraphReader(running)
    found = next((e for e in reader.pages("/me/events") if e.get("iCalUId") == review["iCalUID"]), None)
    if found is None:
        return edits
    start = datetime.fromisoformat(str(found["start"]["dateTime"])[:19]).replace(tzinfo=UTC) + timedelta(
        hours=1
    )
    end = datetime.fromisoformat(str(found["end"]["dateTime"])[:19]).replace(tzinfo=UTC) + timedelta(hours=1)
    reader.patch(
        f"/me/events/{found['id']}",
        {
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "location": {"displayName": "Globex HQ, room 4.12"},
        },
    )
    edits.append(
        f"Calendar: “{found.get('subject')}” moved to {start.astimezone(zone):%a %H:%M}, new room (Graph PATCH /me/events)"
    )
    return edits


def reader(sandbox: RunningSandbox) -> GraphReader:
    """The demo's reader of the emulated Microsoft 365 mailbox."""
    return GraphReader(sandbox.mailbox)


SIDE = MailboxSide(
    start=start,
    settings=settings,
    secrets=secrets,
    endpoints=endpoints,
    reader=reader,
    edit=mailbox_edits,
)
