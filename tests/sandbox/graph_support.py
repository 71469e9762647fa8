"""Helpers for the Graph emulator tests: a requests session that trusts the emulator's CA and
sends its ready token. Import with `from graph_support import ...`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from rgsync.sandbox.graph import RunningGraph, start_graph

NOW = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
IMMUTABLE = 'IdType="ImmutableId"'


class GraphApi:
    """Plain HTTP to the emulator, as any Graph client would talk to it."""

    def __init__(self, graph: RunningGraph, token: str | None = None) -> None:
        self.graph = graph
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(graph.ca_file)
        self.token = graph.token if token is None else token

    def request(self, method: str, path: str, *, prefer: str = IMMUTABLE, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if prefer:
            headers.setdefault("Prefer", prefer)
        url = path if path.startswith("https://") else self.graph.url + path
        return self.session.request(method, url, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def all_pages(self, path: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
        """Every row of a delta round and its deltaLink."""
        rows: list[dict[str, Any]] = []
        link: str | None = path
        while True:
            response = self.get(link or "", **kwargs)
            assert response.status_code == 200, response.text
            body = response.json()
            rows += body["value"]
            if "@odata.deltaLink" in body:
                return rows, body["@odata.deltaLink"]
            link = body["@odata.nextLink"]


def raw_email(
    subject: str,
    *,
    sender: str = "Bob <bob@globex.com>",
    to: str = "ann@acme.com",
    message_id: str = "",
    extra: str = "",
) -> str:
    """A small RFC 822 message."""
    mid = message_id or "<" + subject.replace(" ", "") + "@x>"
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n"
        f"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n{extra}\r\nHello {subject}"
    )


def event_json(subject: str, start: datetime, minutes: int = 60, **extra: Any) -> dict[str, Any]:
    """A Graph event body with UTC times."""
    from datetime import timedelta

    return {
        "subject": subject,
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {
            "dateTime": (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": "UTC",
        },
        **extra,
    }


def running(directory: Path, scenario: dict[str, Any] | None = None) -> Iterator[RunningGraph]:
    """A started emulator at a fixed clock, stopped when the generator closes (for fixtures)."""
    graph = start_graph(
        directory,
        scenario=scenario or {"user": {"address": "ann@acme.com", "name": "Ann Smith"}},
        clock=lambda: NOW,
    )
    try:
        yield graph
    finally:
        graph.stop()
