"""Meetings in zones other than UTC keep their times through whole sessions (SPEC §4.3): the real
Exchange and Microsoft 365 adapters over the EWS and Graph emulators, Salesforce in memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from rgsync.credentials import CredentialStore
from rgsync.model import MailboxConnection
from rgsync.paths import Paths
from rgsync.providers.exchange import PASSWORD_SECRET, ExchangeConnection, open_exchange
from rgsync.providers.microsoft365 import mailbox_from_settings, sign_in_config
from rgsync.providers.microsoft365.auth import http_session, start_device_sign_in
from rgsync.sandbox.ews import start_ews
from rgsync.sandbox.graph import start_graph
from tests.system.memory_world import World, make_world

# (Windows id the mailbox stores, IANA zone a person there uses, local wall-clock start)
MEETINGS = [
    ("India Standard Time", "Asia/Kolkata", datetime(2026, 11, 30, 15, 30)),
    ("W. Europe Standard Time", "Europe/Amsterdam", datetime(2026, 11, 30, 9, 0)),
    ("Pacific Standard Time", "America/Los_Angeles", datetime(2026, 11, 30, 8, 0)),
    ("Nepal Standard Time", "Asia/Kathmandu", datetime(2026, 12, 1, 11, 15)),
    ("AUS Central Standard Time", "Australia/Darwin", datetime(2026, 12, 1, 9, 30)),
]


def _expected(world: World) -> dict[str, datetime]:
    return {
        f"Call in {iana}": local.replace(tzinfo=ZoneInfo(iana)).astimezone(UTC)
        for _ms, iana, local in MEETINGS
    }


def _saved_starts(world: World) -> dict[str, datetime]:
    return {
        e.subject: e.start.astimezone(UTC)
        for e in world.crm.events.values()
        if e.subject.startswith("Call in")
    }


pytestmark = pytest.mark.usefixtures("file_keyring")


def test_spec_4_3_exchange_meetings_in_windows_zones_reach_salesforce_at_their_times(tmp_path: Path) -> None:
    world = make_world(tmp_path / "ann")
    ews = start_ews(
        scenario={"user": {"address": "ann@acme.com", "name": "Ann Lee"}}, clock=lambda: world.now
    )
    paths = Paths("default", tmp_path / "exchange.toml", None, tmp_path / "exchange-state")
    CredentialStore(paths.profile, paths.credentials_file).set(PASSWORD_SECRET, ews.password)
    settings = SimpleNamespace(
        mailbox=MailboxConnection.from_table(
            {
                "address": "ann@acme.com",
                "ews-url": ews.url,
                "auth-type": "basic",
                "time-zone": "Asia/Kolkata",
            }
        )
    )
    mailbox = open_exchange(
        ExchangeConnection.from_table(settings.mailbox.table()),
        CredentialStore(paths.profile, paths.credentials_file),
        clock=lambda: world.now,
    )
    world.mailbox = mailbox  # type: ignore[assignment]
    try:
        for ms_id, iana, local in MEETINGS:
            start = local.replace(tzinfo=ZoneInfo(iana))
            ews.state.add_calendar_item(
                {
                    "subject": f"Call in {iana}",
                    "start": start,
                    "end": start + timedelta(hours=1),
                    "timezone": ms_id,
                    "required": [{"email": "bob@globex.com", "name": "Bob Baker", "response": "accepted"}],
                }
            )
        result = world.run()
        assert result.status == "completed", result.message
        assert _saved_starts(world) == _expected(world)
    finally:
        mailbox.close()
        ews.stop()


@pytest.fixture
def graph_world(tmp_path: Path) -> Iterator[tuple[World, object, CredentialStore, dict[str, object]]]:
    world = make_world(tmp_path / "ann")
    graph = start_graph(
        tmp_path,
        scenario={"user": {"address": "ann@acme.com", "name": "Ann Lee", "time_zone": "Asia/Kolkata"}},
        clock=lambda: world.now,
    )
    table: dict[str, object] = {
        "address": "ann@acme.com",
        "time-zone": "Asia/Kolkata",
        "graph-url": graph.graph_url,
        "authority-url": graph.url,
        "tenant-id": graph.tenant_id,
        "client-id": graph.client_id,
        "ca-file": str(graph.ca_file),
    }
    store = CredentialStore("ann", tmp_path / "credentials.json")
    graph.state.identity.token_lifetime = 86400
    config = sign_in_config(table)
    assert start_device_sign_in(config, store, http_session(config.ca_file)).wait(sleep=lambda _s: None)
    try:
        yield world, graph, store, table
    finally:
        graph.stop()


def test_spec_4_3_microsoft365_meetings_in_windows_zones_reach_salesforce_at_their_times(
    graph_world: tuple[World, object, CredentialStore, dict[str, object]],
) -> None:
    world, graph, store, table = graph_world
    for ms_id, iana, local in MEETINGS:
        end = local + timedelta(hours=1)
        graph.state.add_event(  # type: ignore[attr-defined]
            {
                "subject": f"Call in {iana}",
                "start": {"dateTime": local.isoformat(), "timeZone": ms_id},
                "end": {"dateTime": end.isoformat(), "timeZone": ms_id},
                "attendees": [
                    {
                        "emailAddress": {"address": "bob@globex.com", "name": "Bob Baker"},
                        "type": "required",
                        "status": {"response": "accepted"},
                    }
                ],
            }
        )
    world.mailbox = mailbox_from_settings(table, store)  # type: ignore[assignment]
    try:
        result = world.run()
    finally:
        world.mailbox.close()
    assert result.status == "completed", result.message
    assert _saved_starts(world) == _expected(world)
