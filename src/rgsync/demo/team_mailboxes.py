"""The team sandbox's mailboxes of every kind: Gmail, Microsoft 365 (Graph) and Exchange (EWS).

Each kind has one loopback port for all the team's mailboxes of that kind (a `TenantRouter`,
mailbox NAME under `/u/NAME/`), wrapped in `Delayed` for the per-call latency; the port is only
opened when a rep has a mailbox of that kind. `TeamMailboxes.add(kind, name, scenario)` loads a
rep's scenario into a fresh emulator of that kind behind its router and returns what the rep's
profile needs: the `[mailbox]` keys pointing the adapter at it and the secrets the adapter reads
(Gmail's OAuth token, msal's token cache after a device-code sign-in, Exchange's password).

`mailbox_kind_of(choice, n)` spreads a mixed team over the three kinds in turn.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MAILBOX_KINDS = ("gmail", "microsoft365", "exchange")
MIXED = "mixed"
TEAM_CHOICES = (*MAILBOX_KINDS, MIXED)


def mailbox_kind_of(choice: str, n: int) -> str:
    """The mailbox kind of rep number `n` (from 1) for a team of `choice` (a kind, or mixed)."""
    return MAILBOX_KINDS[(n - 1) % len(MAILBOX_KINDS)] if choice == MIXED else choice


@dataclass
class TenantMailbox:
    """One rep's emulated mailbox: its kind, the emulator (its `state` holds the data), the
    `[mailbox]` keys of the rep's profile and the secrets to store for the adapter."""

    kind: str
    emulator: Any
    settings: dict[str, Any]
    secrets: dict[str, str]
    token: str  # an access token the emulator accepts, for scripts reading the mailbox directly


@dataclass
class TeamMailboxes:
    """The routers (and their servers) of the team's mailbox kinds, opened on first use."""

    directory: Path
    servers: dict[str, Any] = field(default_factory=dict)
    routers: dict[str, Any] = field(default_factory=dict)
    delays: list[Any] = field(default_factory=list)
    ca_file: Path | None = None  # the CA to trust for the Microsoft 365 port (https)

    def _router(self, kind: str) -> tuple[Any, Any]:
        from rgsync.sandbox.http import EmulatorServer, make_tls
        from rgsync.sandbox.tenants import Delayed, TenantRouter

        if kind not in self.servers:
            router = TenantRouter()
            # No latency while the team is set up (sign-ins, profiles); `set_latency` adds it after.
            delayed = Delayed(router, 0.0)
            # Microsoft 365's sign-in (msal) only speaks https; its CA is in the sandbox folder.
            tls = make_tls(self.directory / "graph") if kind == "microsoft365" else None
            if tls is not None:
                self.ca_file = tls.ca_file
            server = EmulatorServer(delayed, tls=tls.context if tls else None)
            server.start()
            self.servers[kind], self.routers[kind] = server, router
            self.delays.append(delayed)
        return self.servers[kind], self.routers[kind]

    def set_latency(self, seconds: float) -> None:
        """Every later call to any mailbox waits `seconds` first."""
        for delayed in self.delays:
            delayed.seconds = seconds

    def add(self, kind: str, name: str, scenario: Any) -> TenantMailbox:
        """Serve rep `name`'s mailbox of `kind`, loaded with `scenario`'s mailbox data."""
        server, router = self._router(kind)
        base = f"{server.url}/u/{name}"
        data = scenario.google_scenario()
        # Served before the builder signs in, as the sign-in goes through the router too.
        serve = lambda emulator: router.add(name, emulator)  # noqa: E731
        if kind == "gmail":
            mailbox = _gmail(base, scenario, data, server, serve)
        elif kind == "microsoft365":
            assert self.ca_file is not None
            mailbox = _microsoft365(base, scenario, data, server, self.ca_file, serve)
        elif kind == "exchange":
            mailbox = _exchange(base, scenario, data, server, serve)
        else:
            raise ValueError(f"unknown mailbox kind {kind!r}")
        return mailbox

    def stop(self) -> None:
        """Stop every server (idempotent)."""
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                server.stop()


Serve = Callable[[Any], None]


def _gmail(base: str, scenario: Any, data: dict[str, Any], server: Any, serve: Serve) -> TenantMailbox:
    from rgsync.providers.google.auth import TOKEN
    from rgsync.sandbox.google import GoogleEmulator, GoogleState
    from rgsync.sandbox.google.oauth import SCOPE, TOKEN_PATH

    state = GoogleState(scenario.user.address, time_zone=scenario.user.time_zone)
    state.load(data)
    token = "ya29.team-" + secrets.token_urlsafe(18)
    emulator = GoogleEmulator(state, token)
    emulator.server = server  # a batch's parts go back through the router
    serve(emulator)
    sign_in = emulator.sign_in
    authorized = {
        "token": token,
        "refresh_token": sign_in.refresh_token,
        "token_uri": base + TOKEN_PATH,
        "client_id": sign_in.client_id,
        "client_secret": sign_in.client_secret,
        "scopes": SCOPE.split(),
        # A fresh access token for the next hour, as connecting stores it.
        "expiry": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return TenantMailbox(
        "gmail", emulator, {"gmail-api-url": base + "/"}, {TOKEN: json.dumps(authorized)}, token
    )


def _microsoft365(
    base: str, scenario: Any, data: dict[str, Any], server: Any, ca_file: Path, serve: Serve
) -> TenantMailbox:
    from rgsync.demo import microsoft365
    from rgsync.sandbox.graph import GraphEmulator, GraphState, RunningGraph

    state = GraphState(scenario.user.address, name=scenario.user.name, time_zone=scenario.user.time_zone)
    state.load(data)
    emulator = GraphEmulator(state)
    emulator.server = server
    serve(emulator)
    identity = state.identity
    running = RunningGraph(
        url=base,
        authority=f"{base}/{identity.tenant_id}",
        ca_file=ca_file,
        client_id=identity.client_id,
        tenant_id=identity.tenant_id,
        client_secret=identity.client_secret,
        token=identity.ready_token(),
        address=scenario.user.address,
        server=server,
        state=state,
    )
    # The rep signs in as a user would (device code, approved by the emulator): msal's own cache.
    settings = microsoft365.settings(running)
    # A sign-in base with a path is taken as the whole authority (tenant included): behind the
    # router the base has one, so it is given whole.
    settings["authority-url"] = running.authority
    return TenantMailbox("microsoft365", emulator, settings, microsoft365.secrets(running), running.token)


def _exchange(base: str, scenario: Any, data: dict[str, Any], server: Any, serve: Serve) -> TenantMailbox:
    from rgsync.demo import exchange
    from rgsync.sandbox.ews import EWS_PATH, EwsEmulator, MailboxState, RunningEws

    address = scenario.user.address.lower()
    state = MailboxState(
        address, username=address, password=secrets.token_urlsafe(12), name=scenario.user.name
    )
    state.load(data)
    token = "ews-team-" + secrets.token_urlsafe(16)
    emulator = EwsEmulator(state, token)
    serve(emulator)
    running = RunningEws(
        url=base + EWS_PATH,
        username=state.username,
        password=state.password,
        token=token,
        address=address,
        server=server,
        state=state,
    )
    return TenantMailbox("exchange", emulator, exchange.settings(running), exchange.secrets(running), token)
