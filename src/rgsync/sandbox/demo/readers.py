"""Readers of the emulated mailbox that answer in the Google APIs' shapes: the Google one reads
through the Gmail, Calendar, Tasks and People REST APIs; Microsoft 365 and Exchange have their own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from rgsync.sandbox.serve import Sandbox


def _mailbox_reader(sandbox: Sandbox) -> Any:
    """A reader of the emulated mailbox that answers in the Google APIs' shapes."""
    if sandbox.mailbox_kind == "microsoft365":
        from rgsync.sandbox.graph.demo_side import GraphReader

        return GraphReader(sandbox.mailbox)
    if sandbox.mailbox_kind == "exchange":
        from rgsync.sandbox.ews.demo import EwsReader

        return EwsReader(sandbox.mailbox)
    return _GoogleReader(sandbox)


class _GoogleReader:
    """Reads the emulated mailbox through the Google REST APIs (as any client would)."""

    def __init__(self, sandbox: Sandbox) -> None:
        import requests

        self.base = sandbox.mailbox.url.rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {sandbox.mailbox.token}"
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
