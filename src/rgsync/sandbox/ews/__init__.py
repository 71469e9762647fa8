"""A loopback emulator of Exchange Web Services (SOAP over plain HTTP on 127.0.0.1), for the
Exchange adapter's tests and for `rgsync demo --mailbox exchange`.

    ews = start_ews(scenario={"user": {"address": "ann@acme.com"}})
    try:
        config = Configuration(service_endpoint=ews.url, credentials=Credentials(ews.username, ews.password),
                               auth_type=BASIC, version=Version(build=Build(15, 1, 2507, 6)))
        ...
    finally:
        ews.stop()

It answers GetFolder, FindFolder, CreateFolder, SyncFolderItems, FindItem (IndexedPageItemView with
restrictions, or CalendarView expanding recurring series), GetItem, CreateItem, UpdateItem and
DeleteItem at `/EWS/Exchange.asmx`, with Basic authentication (NTLM cannot be spoken over a test
loopback; real servers use it) or a Bearer token. Calls are counted per SOAP operation in
`server.calls` ('SyncFolderItems', 'GetItem', …). Faults go through `server.faults` — a fault's
`match` is searched in 'POST /EWS/Exchange.asmx <Operation>' — or the helpers of `RunningEws`.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rgsync.sandbox.http import EmulatorServer, Fault, Request, Response

from .mailbox import MailboxState
from .operations import OPERATIONS, SchemaError
from .soap import envelope, fault, operation_of, parse_request, server_busy, t
from .store import EwsError

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_PASSWORD",
    "EWS_PATH",
    "EwsEmulator",
    "MailboxState",
    "RunningEws",
    "start_ews",
]

EWS_PATH = "/EWS/Exchange.asmx"
DEFAULT_ADDRESS = "ann@acme.com"
DEFAULT_PASSWORD = "sandbox-password"


class EwsEmulator:
    """What `EmulatorServer` serves: authenticates, parses the SOAP request and runs the operation."""

    def __init__(
        self, state: MailboxState, token: str, service_accounts: dict[str, str] | None = None
    ) -> None:
        self.state = state
        self.token = token
        # Sign-ins (name -> password) that may reach the mailbox only through impersonation.
        self.service_accounts = {k.lower(): v for k, v in (service_accounts or {}).items()}
        # Who holds the ApplicationImpersonation role, and over which mailboxes (its management
        # scope; None: every mailbox of the organisation). Service accounts hold it unless a test
        # takes it away.
        self.impersonators: dict[str, set[str] | None] = dict.fromkeys(self.service_accounts)
        # The organisation's other mailboxes, reachable only by impersonation (address -> state).
        self.mailboxes: dict[str, MailboxState] = {state.address.lower(): state}

    def route_name(self, request: Request) -> str:
        """The SOAP operation ('SyncFolderItems', 'GetItem', …), 'http' for anything else."""
        if request.method != "POST" or request.path.lower() != EWS_PATH.lower():
            return "http"
        return operation_of(request.body)

    def fault_line(self, request: Request, route: str) -> str:
        """What injected faults match against: 'POST /EWS/Exchange.asmx SyncFolderItems'."""
        return f"{request.method} {request.path} {route}"

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request: 401 without a valid sign-in, a SOAP fault for a bad request, else the operation's response messages."""
        if request.path.lower() != EWS_PATH.lower():
            return Response(404, "Not Found", content_type="text/plain")
        if request.method != "POST":
            return Response(405, "Method Not Allowed", headers={"Allow": "POST"}, content_type="text/plain")
        principal = self._principal(request.header("authorization"))
        if principal is None:
            return Response(
                401,
                "",
                headers={"WWW-Authenticate": 'Basic realm="127.0.0.1"'},
                content_type="text/html",
            )
        try:
            header, op = parse_request(request.body)
        except ValueError as exc:
            return fault("ErrorSchemaValidation", f"The request failed schema validation: {exc}")
        operation = op.tag.rpartition("}")[2]
        handler = OPERATIONS.get(operation)
        if handler is None:
            return fault("ErrorInvalidRequest", f"The sandbox does not implement the {operation} operation.")
        try:
            target = self._check_impersonation(header, principal)
            if principal in self.service_accounts and target is None:
                raise EwsError(
                    "ErrorAccessDenied",
                    "The service account has no access to this mailbox; use impersonation.",
                )
            state = target or self.state
            with state.lock:
                messages = handler(state, op)
        except SchemaError as exc:
            return fault("ErrorSchemaValidation", f"The request failed schema validation: {exc}")
        except EwsError as exc:
            return fault(exc.code, exc.text)
        return envelope(operation, messages)

    def _principal(self, authorization: str) -> str | None:
        """Who signed in (a user name, 'bearer' for the token), or None when the sign-in is refused."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return "bearer" if secrets.compare_digest(value.strip(), self.token) else None
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user = user.lower().lstrip("\\")
        if user in {self.state.username.lower(), self.state.address}:
            return user if secrets.compare_digest(password, self.state.password) else None
        if user in self.service_accounts:
            return user if secrets.compare_digest(password, self.service_accounts[user]) else None
        return None

    def add_mailbox(self, state: MailboxState) -> None:
        """Another mailbox of the organisation: reachable through impersonation only."""
        self.mailboxes[state.address.lower()] = state

    def _check_impersonation(self, header: Any, principal: str) -> MailboxState | None:
        """The mailbox an ExchangeImpersonation header asks for (None without one), or the fault
        Exchange answers: ErrorImpersonateUserDenied when the caller lacks the
        ApplicationImpersonation role or the mailbox is outside the role's management scope,
        ErrorNonExistentMailbox for an address with no mailbox."""
        if header is None:
            return None
        impersonation = header.find(t("ExchangeImpersonation"))
        if impersonation is None:
            return None
        target = {
            (e.text or "").strip().lower()
            for e in impersonation.iter()
            if e.tag in (t("PrimarySmtpAddress"), t("SmtpAddress"), t("PrincipalName"))
        }
        if principal not in self.impersonators:
            raise EwsError(
                "ErrorImpersonateUserDenied",
                "The account does not have permission to impersonate the requested user.",
            )
        found = next((self.mailboxes[a] for a in sorted(target) if a in self.mailboxes), None)
        if found is None:
            raise EwsError(
                "ErrorNonExistentMailbox", f"No mailbox with such address: {', '.join(sorted(target))}"
            )
        scope = self.impersonators[principal]
        if scope is not None and found.address.lower() not in {a.lower() for a in scope}:
            raise EwsError(
                "ErrorImpersonateUserDenied",
                "The account does not have permission to impersonate the requested user.",
            )
        return found


@dataclass
class RunningEws:
    """A started emulator: `url` (the EWS endpoint), the Basic credentials it accepts (`username`,
    `password`) or a Bearer `token`, the mailbox `address`, the `server` (counters, faults) and the
    mailbox `state` with its set-up helpers."""

    url: str
    username: str
    password: str
    token: str
    address: str
    server: EmulatorServer
    state: MailboxState

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.server.stop()

    def __enter__(self) -> RunningEws:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def calls(self, operation: str) -> int:
        """How many times a SOAP operation was called."""
        return self.server.calls.get(operation, 0)

    # --- fault helpers; `operation` is a regular expression searched in the SOAP operation name ----

    def inject_server_busy(
        self, operation: str = ".*", times: int = 1, *, back_off_ms: int | None = 500
    ) -> Fault:
        """Throttle the next `times` matching calls: HTTP 500 with an ErrorServerBusy SOAP fault
        carrying BackOffMilliseconds (leave it out with back_off_ms=None, as some servers do)."""
        return self.server.faults.add(
            Fault(match=_match(operation), response=server_busy(back_off_ms), times=times)
        )

    def inject_5xx(self, operation: str = ".*", times: int = 1, *, status: int = 503) -> Fault:
        """Answer the next `times` matching calls with a bare HTTP error (503 Service Unavailable)."""
        body = Response(status, "Service Unavailable", content_type="text/html")
        return self.server.faults.add(Fault(match=_match(operation), response=body, times=times))

    def inject_latency(self, operation: str = ".*", seconds: float = 1.0, times: int = 1) -> Fault:
        """Delay the next `times` matching calls (through `server.sleep`, which tests may replace)."""
        return self.server.faults.add(Fault(match=_match(operation), latency=seconds, times=times))

    def drop_connection(self, operation: str = ".*", times: int = 1) -> Fault:
        """Close the connection without answering the next `times` matching calls."""
        return self.server.faults.add(Fault(match=_match(operation), drop=True, times=times))

    def fail_nth(self, operation: str = ".*", nth: int = 1, *, response: Response | None = None) -> Fault:
        """Answer only the N-th matching call with a failure (ErrorServerBusy unless `response`)."""
        return self.server.faults.add(
            Fault(match=_match(operation), response=response or server_busy(500), nth=nth)
        )

    def invalidate_sync_states(self, folder: str | None = None) -> None:
        """Every sync state handed out so far (for one folder, by name or id, or all) becomes invalid."""
        ids = None if folder is None else [self.state.resolve_folder(folder).id]
        self.state.invalidate_sync_states(ids)

    def invitations_sent(self) -> int:
        """Meeting invitations/cancellations sent on the client's behalf so far."""
        return self.state.invitations_sent()


def _match(operation: str) -> str:
    return rf"{EWS_PATH} (?:{operation})$"


def start_ews(
    *,
    scenario: Mapping[str, Any] | None = None,
    clock: Callable[[], datetime] | None = None,
    port: int = 0,
) -> RunningEws:
    """Start the emulator on 127.0.0.1 (a free port unless `port` is given) in a background thread.

    `scenario` is {"user": {"address", "name", "username", "password", "token", "service_accounts":
    [{"username", "password", "impersonation", "scope"}]}} plus the mailbox data `MailboxState.load`
    takes (service accounts sign in with Basic and reach the mailbox only through
    ExchangeImpersonation; they hold the ApplicationImpersonation role unless `impersonation` is
    false, over the addresses in `scope` when given); `clock` returns the aware "now" used for server timestamps.
    """
    data = dict(scenario or {})
    user = dict(data.get("user") or {})
    address = str(user.get("address") or DEFAULT_ADDRESS).lower()
    state = MailboxState(
        address,
        username=str(user.get("username") or address),
        password=str(user.get("password") or DEFAULT_PASSWORD),
        name=str(user.get("name") or ""),
        clock=clock,
    )
    state.load(data)
    token = str(user.get("token") or "ews-sandbox-" + secrets.token_urlsafe(16))
    accounts = list(user.get("service_accounts") or [])
    service = {str(a["username"]): str(a["password"]) for a in accounts}
    emulator = EwsEmulator(state, token, service)
    for account in accounts:
        name = str(account["username"]).lower()
        if account.get("impersonation") is False:
            del emulator.impersonators[name]  # the role was never assigned
        elif account.get("scope") is not None:
            emulator.impersonators[name] = {str(a).lower() for a in account["scope"]}
    server = EmulatorServer(emulator, port=port)
    server.start()
    return RunningEws(
        url=server.url + EWS_PATH,
        username=state.username,
        password=state.password,
        token=token,
        address=address,
        server=server,
        state=state,
    )
