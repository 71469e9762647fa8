"""Helpers for the Google emulator tests: the real google-api-python-client pointed at the emulator.

Import with `from tests.sandbox.google_harness import ...`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.http import BatchHttpRequest

from rgsync.sandbox.google import RunningGoogle

# The api_endpoint replaces rootUrl + servicePath; only Calendar has a servicePath of its own.
ENDPOINT_SUFFIX = {"gmail": "/", "calendar": "/calendar/v3/", "tasks": "/", "people": "/"}
VERSION = {"gmail": "v1", "calendar": "v3", "tasks": "v1", "people": "v1"}
BATCH_PATH = {
    "gmail": "/batch/gmail/v1",
    "calendar": "/batch/calendar/v3",
    "tasks": "/batch/tasks/v1",
    "people": "/batch/people/v1",
}


@dataclass
class Clock:
    """A hand-driven clock: `now` stays put until a test calls `advance`."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 28, 11, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def authorized_http(token: str) -> httplib2.Http:
    """An httplib2 client that sends `Authorization: Bearer <token>`."""
    return google_auth_httplib2.AuthorizedHttp(Credentials(token), http=httplib2.Http(timeout=10))


def service(google: RunningGoogle, api: str, *, token: str | None = None) -> Any:
    """A googleapiclient service for 'gmail', 'calendar', 'tasks' or 'people' bound to the emulator."""
    http = authorized_http(token or google.token) if token != "" else httplib2.Http(timeout=10)
    return build(
        api,
        VERSION[api],
        http=http,
        client_options={"api_endpoint": google.url + ENDPOINT_SUFFIX[api]},
        static_discovery=True,
        cache_discovery=False,
    )


def new_batch(
    google: RunningGoogle, api: str, callback: Callable[[str, Any, Exception | None], None]
) -> BatchHttpRequest:
    """A batch aimed at the emulator's batch endpoint for `api` (the client's own URI would ignore it)."""
    return BatchHttpRequest(callback=callback, batch_uri=google.url + BATCH_PATH[api])


def error_json(error: Any) -> dict[str, Any]:
    """The JSON body of a googleapiclient HttpError."""
    import json

    return json.loads(error.content.decode("utf-8"))["error"]
