"""A loopback emulator of the Gmail, Google Calendar, Google Tasks and People APIs (plain HTTP on
127.0.0.1) for the Google adapter's tests and for `rgsync demo`.

    google = start_google(scenario={"user": {"address": "ann@acme.com"}, "messages": [...]})
    try:
        ...  # build('gmail', 'v1', client_options={'api_endpoint': google.url + '/'}, ...)
    finally:
        google.stop()

Point google-api-python-client at it with `client_options={'api_endpoint': url + '/'}` (Calendar:
`url + '/calendar/v3/'`) and an `Authorization: Bearer <token>` header; build batches yourself with
`BatchHttpRequest(batch_uri=url + '/batch/gmail/v1')` because the client's own batch URI ignores
`api_endpoint`. Calls are counted per route in `server.calls` ('gmail.history.list',
'calendar.events.list', 'tasks.tasks.list', 'people.connections.list', 'batch', …; a batch's inner
calls under their own names) and faults go through `server.faults` or the helpers below.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rgsync.sandbox.google.common import error_response
from rgsync.sandbox.google.emulator import GoogleEmulator, GoogleState
from rgsync.sandbox.google.oauth import SCOPE, TOKEN_PATH, GoogleSignIn
from rgsync.sandbox.http import EmulatorServer, Fault

__all__ = ["DEFAULT_ADDRESS", "GoogleEmulator", "GoogleState", "RunningGoogle", "start_google"]

DEFAULT_ADDRESS = "ann@acme.com"


@dataclass
class RunningGoogle:
    """A started emulator: its base `url`, the bearer `token` it accepts, the mailbox `address`, the
    `server` (counters, faults) and the in-memory `state` with its setup helpers."""

    url: str
    token: str
    address: str
    server: EmulatorServer
    state: GoogleState

    def reset(
        self, *, scenario: dict[str, Any] | None = None, clock: Callable[[], datetime] | None = None
    ) -> GoogleState:
        """Start over on the same URL and token: fresh data loaded from `scenario` (see `start_google`),
        no pending faults, zeroed call counters. Cheaper than a new server for every test."""
        state = _new_state(scenario or {}, clock, default_address=DEFAULT_ADDRESS)
        emulator = self.server.emulator
        if isinstance(emulator, GoogleEmulator):
            emulator.use(state)
        self.server.faults.clear()
        self.server.reset_counters()
        self.server.sleep = time.sleep
        self.state = state
        self.address = state.address
        return state

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.server.stop()

    def __enter__(self) -> RunningGoogle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- the OAuth side ---------------------------------------------------------------------------

    @property
    def sign_in(self) -> GoogleSignIn:
        """The OAuth client, refresh token and issued access tokens (`POST /token`)."""
        emulator = self.server.emulator
        assert isinstance(emulator, GoogleEmulator)
        return emulator.sign_in

    def authorized_user(self) -> dict[str, Any]:
        """What `rgsync connect gmail` stores: google-auth's authorized-user JSON, refreshable here."""
        sign_in = self.sign_in
        return {
            "token": self.token,
            "refresh_token": sign_in.refresh_token,
            "token_uri": self.url.rstrip("/") + TOKEN_PATH,
            "client_id": sign_in.client_id,
            "client_secret": sign_in.client_secret,
            "scopes": SCOPE.split(),
            # As connecting stores it: the ready token is good for the next hour.
            "expiry": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def expire_access_tokens(self) -> None:
        """Every access token expires now: calls answer 401 until the client refreshes."""
        self.sign_in.expire_access_tokens()

    def revoke_sign_in(self) -> None:
        """The user removed rgsync's access: 401 on calls, invalid_grant on refresh."""
        self.sign_in.revoke()

    # --- fault helpers (all match a regular expression against 'METHOD /path') -------------------

    def inject_rate_limit(
        self,
        match: str = ".*",
        times: int = 1,
        *,
        status: int = 429,
        reason: str = "rateLimitExceeded",
        retry_after: int | None = 1,
    ) -> Fault:
        """The next `times` matching calls get Google's rate-limit error (429 rateLimitExceeded by
        default; status=403, reason='userRateLimitExceeded' for the per-user quota). A 429 carries
        `Retry-After: retry_after` seconds as Google's front end sends it (None: no header)."""
        if reason == "userRateLimitExceeded":
            body = error_response(status, reason, "User Rate Limit Exceeded", domain="usageLimits")
        else:
            body = error_response(status, reason, "Resource has been exhausted (e.g. check quota).")
        if status == 429 and retry_after is not None:
            body.headers["Retry-After"] = str(retry_after)
        return self.server.faults.add(Fault(match=match, response=body, times=times))

    def inject_5xx(self, match: str = ".*", times: int = 1, *, status: int = 503) -> Fault:
        """The next `times` matching calls get a backendError with this 5xx status."""
        message = "The service is currently unavailable." if status == 503 else "Backend Error"
        return self.server.faults.add(
            Fault(match=match, response=error_response(status, "backendError", message), times=times)
        )

    def inject_latency(self, match: str = ".*", seconds: float = 1.0, times: int = 1) -> Fault:
        """Delay the next `times` matching calls (through `server.sleep`, which tests may replace)."""
        return self.server.faults.add(Fault(match=match, latency=seconds, times=times))

    def drop_connection_nth(self, match: str = ".*", nth: int = 1) -> Fault:
        """Close the connection without an answer on the N-th matching call."""
        return self.server.faults.add(Fault(match=match, drop=True, nth=nth))

    def fail_nth(
        self, match: str = ".*", nth: int = 1, *, status: int = 500, reason: str = "backendError"
    ) -> Fault:
        """Answer the N-th matching call with a Google error (500 backendError by default)."""
        message = "Backend Error" if status >= 500 else reason
        return self.server.faults.add(
            Fault(match=match, response=error_response(status, reason, message), nth=nth)
        )


def start_google(
    *,
    scenario: dict[str, Any] | None = None,
    clock: Callable[[], datetime] | None = None,
    token: str | None = None,
    port: int = 0,
) -> RunningGoogle:
    """Start the emulator on 127.0.0.1 (a free port unless `port` is given) in a background thread.

    `scenario` is {"user": {"address": ..., "timeZone": ...}, "messages": [{"raw", "labels", "thread",
    "internalDate" (epoch ms or ISO; default: the Date header)}],
    "events": [Calendar event JSON], "tasks": {"List title": [Task JSON]}, "contacts": [Person JSON],
    "contactGroups": [names]}; `clock` returns the aware "now" used for every timestamp (default: the
    real clock); `token` is the bearer token to accept (default: a fresh random one)."""
    state = _new_state(scenario or {}, clock, default_address=DEFAULT_ADDRESS)
    chosen_token = token or "ya29.sandbox-" + secrets.token_urlsafe(24)
    emulator = GoogleEmulator(state, chosen_token)
    server = EmulatorServer(emulator, port=port)
    emulator.server = server
    server.start()
    return RunningGoogle(
        url=server.url, token=chosen_token, address=state.address, server=server, state=state
    )


def _new_state(
    scenario: dict[str, Any], clock: Callable[[], datetime] | None, *, default_address: str
) -> GoogleState:
    user = scenario.get("user") or {}
    address = str(user.get("address") or default_address)
    state = GoogleState(address, clock=clock, time_zone=str(user.get("timeZone") or "UTC"))
    state.load(scenario)
    return state
