"""Whole sessions over the Microsoft 365 adapter and the Graph emulator (Salesforce in memory), with
real msal and requests: what a Microsoft 365 user sees after `rgsync run`, and what an idle
session costs (SPEC §10)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from rgsync.credentials import CredentialStore
from rgsync.providers.microsoft365 import mailbox_from_settings, sign_in_config
from rgsync.providers.microsoft365.auth import http_session, start_device_sign_in
from rgsync.sandbox.graph import RunningGraph, start_graph
from tests.system.memory_world import BERLIN, World, make_world, sf_event

pytestmark = pytest.mark.usefixtures("file_keyring")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "ann")


@pytest.fixture
def graph(tmp_path: Path, world: World) -> Iterator[RunningGraph]:
    running = start_graph(
        tmp_path,
        scenario={"user": {"address": "ann@acme.com", "name": "Ann Lee", "time_zone": "Europe/Berlin"}},
        clock=lambda: world.now,
    )
    try:
        yield running
    finally:
        running.stop()


def _table(graph: RunningGraph) -> dict[str, object]:
    return {
        "address": "ann@acme.com",
        "aliases": ["a.lee@acme.com"],
        "time-zone": "Europe/Berlin",
        "graph-url": graph.graph_url,
        "authority-url": graph.url,
        "tenant-id": graph.tenant_id,
        "client-id": graph.client_id,
        "ca-file": str(graph.ca_file),
    }


def run(world: World, graph: RunningGraph, store: CredentialStore) -> object:
    """One session with a fresh adapter (signed in silently from the stored cache), like `rgsync run`."""
    world.mailbox = mailbox_from_settings(_table(graph), store)  # type: ignore[assignment]
    try:
        return world.run()
    finally:
        world.mailbox.close()
        world.tick(60)


def deliver(graph: RunningGraph, world: World, sender: str, subject: str, folder: str = "inbox") -> str:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "ann@acme.com"
    message["Subject"] = subject
    message["Date"] = format_datetime(world.now - timedelta(hours=1))
    message["Message-ID"] = f"<{subject.replace(' ', '.')}@globex.com>"
    message.set_content(f"About {subject}")
    return graph.state.add_message(bytes(message), folder, received=world.now - timedelta(hours=1))


def test_a_microsoft365_session_saves_labels_down_syncs_and_then_idles_at_one_call_per_stream(
    world: World, graph: RunningGraph, tmp_path: Path
) -> None:
    store = CredentialStore("ann", tmp_path / "credentials.json")
    graph.state.identity.token_lifetime = 86400  # the world's clock runs hours ahead between sessions
    config = sign_in_config(_table(graph))
    assert (
        start_device_sign_in(config, store, http_session(config.ca_file)).wait(sleep=lambda _s: None)
        == "ann@acme.com"
    )
    saved = deliver(graph, world, "bob@globex.com", "Quote for Globex")
    deliver(graph, world, "bob@globex.com", "Spam offer", "junkemail")
    sf_event(world, "Pricing call", datetime(2026, 11, 30, 10, 0, tzinfo=BERLIN), who_ids=(world.ids["bob"],))

    first = run(world, graph, store)
    assert first.status == "completed", first.message  # type: ignore[attr-defined]
    assert [a.email.subject for a in world.crm.emails.values()] == ["Quote for Globex"]
    assert graph.state.categories_of(saved) == ["Salesforce"]
    [event] = graph.state.events()
    assert event["subject"] == "Pricing call" and event["start"]["dateTime"].startswith("2026-11-30T09:00:00")
    assert event["transactionId"].startswith("rgsync-") and event["singleValueExtendedProperties"][0]["value"]
    assert graph.state.notifications == []
    names = sorted(str(c["surname"]) for c in graph.state.contacts("Salesforce Contacts"))
    assert names == ["Baker", "Dunn", "Grant"]

    second = run(world, graph, store)  # sees the category and its own writes echo back once
    assert second.status == "completed"  # type: ignore[attr-defined]
    graph.server.reset_counters()
    idle = run(world, graph, store)
    assert idle.status == "completed"  # type: ignore[attr-defined]
    # Emails (Inbox + Sent Items), events and contacts are on (tasks are off by default).
    assert idle.api_calls["mailbox"] == 4  # type: ignore[attr-defined]
    graph_calls = {k: v for k, v in graph.server.calls.items() if k.startswith("graph.")}
    assert graph_calls == {
        "graph.messages.delta": 2,
        "graph.calendarView.delta": 1,
        "graph.contacts.delta": 1,
    }
    # Signing in silently from the stored cache costs msal one discovery call and no token call.
    assert {k: v for k, v in graph.server.calls.items() if k.startswith("oauth.")} == {
        "oauth.openid-configuration": 1
    }
    assert len(world.crm.emails) == 1 and len(world.crm.events) == 1
    assert graph.state.requests_without_immutable_ids == []
    print(f"idle Microsoft 365 session: {dict(graph.server.calls)}", file=sys.stderr)
