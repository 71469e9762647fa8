"""One HTTP front for the four Google emulators: routing, bearer-token check, `fields` partial
responses, Google's error bodies, and the batch endpoints (whose inner calls are counted and
fault-injected one by one through the server, like direct calls)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rgsync.sandbox.google import batch, calendar, gmail, people, tasks
from rgsync.sandbox.google.common import JSON_TYPE, GoogleApiError, Route, apply_fields, parse_fields
from rgsync.sandbox.google.delegation import WorkspaceDirectory
from rgsync.sandbox.google.oauth import TOKEN_PATH, GoogleSignIn
from rgsync.sandbox.http import EmulatorServer, Request, Response

WWW_AUTHENTICATE = 'Bearer realm="https://accounts.google.com/"'
MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid "
    "authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class GoogleState:
    """Everything the emulators hold, under one lock: `gmail`, `calendar`, `tasks` and `people` stores.

    The stores' public methods are the setup helpers; the most used ones are repeated here so a test
    can write `state.add_message(...)` or `state.expire_history()`."""

    def __init__(
        self, address: str, *, clock: Callable[[], datetime] | None = None, time_zone: str = "UTC"
    ) -> None:
        self.address = address
        self.clock: Callable[[], datetime] = clock or _utc_now
        self.lock = threading.RLock()
        self.gmail = gmail.GmailStore(address, self.clock, self.lock)
        self.calendar = calendar.CalendarStore(address, self.clock, self.lock, time_zone)
        self.tasks = tasks.TasksStore(address, self.clock, self.lock)
        self.people = people.PeopleStore(address, self.clock, self.lock)

    def add_message(
        self,
        raw: bytes | str,
        labels: list[str] | tuple[str, ...] = ("INBOX",),
        thread_id: str | None = None,
        *,
        internal_date: datetime | None = None,
    ) -> str:
        """Store a raw RFC 822 message; see `GmailStore.add_message`."""
        return self.gmail.add_message(raw, labels, thread_id, internal_date=internal_date)

    def delete_message(self, message_id: str) -> None:
        """Delete a message for good; see `GmailStore.delete_message`."""
        self.gmail.delete_message(message_id)

    def add_event(self, event: dict[str, Any]) -> str:
        """Store a Calendar event; see `CalendarStore.add_event`."""
        return self.calendar.add_event(event)

    def add_task(self, list_title: str, task: dict[str, Any]) -> str:
        """Store a task in the named list; see `TasksStore.add_task`."""
        return self.tasks.add_task(list_title, task)

    def add_contact(self, person: dict[str, Any]) -> str:
        """Store a contact; see `PeopleStore.add_contact`."""
        return self.people.add_contact(person)

    def expire_history(self) -> None:
        """Gmail: any earlier startHistoryId now gets 404."""
        self.gmail.expire_history()

    def expire_sync_tokens(self) -> None:
        """Calendar: every sync token handed out so far now gets 410."""
        self.calendar.expire_sync_tokens()

    def expire_people_sync_tokens(self) -> None:
        """People: every sync token handed out so far now gets 400 EXPIRED_SYNC_TOKEN."""
        self.people.expire_sync_tokens()

    def load(self, scenario: dict[str, Any]) -> None:
        """Load scenario data: {"messages": [{"raw", "labels", "thread", "internalDate"}], "events": [...],
        "tasks": {"List title": [...]}, "contacts": [...], "contactGroups": ["name", ...]}."""
        for message in scenario.get("messages") or []:
            self.gmail.add_message(
                message["raw"],
                message.get("labels", ["INBOX"]),
                message.get("thread"),
                internal_date=_moment(message),
            )
        for event in scenario.get("events") or []:
            self.calendar.add_event(event)
        for list_title, items in (scenario.get("tasks") or {}).items():
            self.tasks.list_id(list_title, create=True)
            for task in items:
                self.tasks.add_task(list_title, task)
        for group in scenario.get("contactGroups") or []:
            self.people.add_contact_group(str(group))
        for person in scenario.get("contacts") or []:
            self.people.add_contact(person)


def _moment(message: dict[str, Any]) -> datetime | None:
    value = message.get("internalDate")
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return datetime.fromisoformat(str(value))


class GoogleEmulator:
    """The emulator `EmulatorServer` serves: answers Gmail, Calendar, Tasks, People and batch calls."""

    def __init__(self, state: GoogleState, token: str) -> None:
        self.token = token
        # The OAuth side: refresh tokens, issued access tokens, expiry and revocation.
        self.sign_in = GoogleSignIn()
        # The Workspace domain's service accounts (domain-wide delegation), when a test sets one.
        self.directory: WorkspaceDirectory | None = None
        self.server: EmulatorServer | None = None
        self.state = state
        self.routes: list[Route] = []
        self.use(state)

    def use(self, state: GoogleState) -> None:
        """Serve `state` from now on (a fresh start for the next test, same URL and token)."""
        old = getattr(self, "sign_in", None)
        if old is not None:  # same client and refresh token, nothing expired or revoked
            self.sign_in = GoogleSignIn(old.client_id, old.client_secret, old.refresh_token)
        with state.lock:
            self.routes = (
                gmail.routes(state.gmail)
                + calendar.routes(state.calendar)
                + tasks.routes(state.tasks)
                + people.routes(state.people)
            )
            self.state = state

    def route_name(self, request: Request) -> str:
        """'batch', 'oauth.token', the route's name such as 'gmail.messages.get', or 'unknown'."""
        if request.path == TOKEN_PATH:
            return "oauth.token"
        if batch.is_batch(request):
            return "batch"
        # Only the name is wanted here: the path parameters are not decoded (see `Route.match`).
        for candidate in self.routes:
            if candidate.method == request.method and candidate.pattern.match(request.path):
                return candidate.name
        return "unknown"

    def handle(self, request: Request) -> Response:
        """Answer one call; emulator bugs become Google's 500 backendError rather than a hang."""
        if request.path == TOKEN_PATH and request.method == "POST":
            if self.directory is not None and self.directory.is_jwt_grant(request):
                return self.directory.token_endpoint(request)  # a service account acting as a user
            return self.sign_in.token_endpoint(request)
        if batch.is_batch(request):
            try:
                return batch.handle_batch(request, self._dispatch_inner)
            except GoogleApiError as error:
                return error.response()
        try:
            return self._answer(request)
        except GoogleApiError as error:
            return error.response()
        except Exception as exc:
            return GoogleApiError(
                500, "backendError", f"Backend Error ({type(exc).__name__}: {exc})"
            ).response()

    def _dispatch_inner(self, request: Request) -> Response:
        # Through the server, so each inner call is counted under its own route name and faults
        # (429, 5xx, latency, a dropped connection, the N-th call) apply to it as to a direct call.
        if self.server is not None:
            return self.server.dispatch(request)
        return self.handle(request)

    def _check_token(self, request: Request) -> None:
        authorization = request.header("authorization")
        scheme, _, token = authorization.partition(" ")
        if not authorization or scheme.lower() != "bearer" or not token.strip():
            raise GoogleApiError(
                401,
                "required",
                MISSING_CREDENTIALS,
                location="Authorization",
                location_type="header",
                headers={"WWW-Authenticate": WWW_AUTHENTICATE},
            )
        live = self.sign_in.accepts(token.strip())
        ready = token.strip() == self.token and not self.sign_in.ready_expired
        if not (live or (live is None and ready)):
            raise GoogleApiError(
                401,
                "authError",
                INVALID_CREDENTIALS,
                location="Authorization",
                location_type="header",
                headers={"WWW-Authenticate": WWW_AUTHENTICATE + ', error="invalid_token"'},
            )

    def _answer(self, request: Request) -> Response:
        for candidate in self.routes:
            call = candidate.match(request)
            if call is None:
                continue
            self._check_token(request)
            selector = request.param("fields")
            tree = parse_fields(selector) if selector else None
            with self.state.lock:
                result = candidate.action(call)
            if isinstance(result, Response):
                if tree is not None and isinstance(result.body, dict):
                    result.body = apply_fields(result.body, tree)
                return result
            return Response(200, apply_fields(result, tree), content_type=JSON_TYPE)
        raise GoogleApiError(404, "notFound", "Not Found")
