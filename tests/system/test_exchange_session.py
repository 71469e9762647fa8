"""Whole sessions against an Exchange mailbox: the real adapter and exchangelib over the EWS
emulator, the Salesforce side in memory (RULE-CASES world). Checks what a user sees on both sides
and what the mailbox side costs in SOAP calls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from rgsync.credentials import CredentialStore
from rgsync.model import MailboxConnection, Stream
from rgsync.paths import Paths
from rgsync.providers.exchange import PASSWORD_SECRET, ExchangeConnection, open_exchange
from rgsync.sandbox.ews import RunningEws, start_ews
from tests.system.memory_world import ANN_ID, BERLIN, World, make_world, sf_event


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, RunningEws]]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
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
                "aliases": ["a.lee@acme.com"],
                "ews-url": ews.url,
                "auth-type": "basic",
                "time-zone": "Europe/Berlin",
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
        yield world, ews
    finally:
        mailbox.close()
        ews.stop()


def deliver(world: World, ews: RunningEws, sender: str, subject: str, *, hours_ago: float = 1) -> str:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "ann@acme.com", subject
    sent = world.now - timedelta(hours=hours_ago)
    message["Date"] = format_datetime(sent)
    message["Message-ID"] = f"<{subject.replace(' ', '.')}@globex.com>"
    message.set_content(f"About {subject}")
    return ews.state.add_message(message.as_bytes(), "inbox", received=sent)


def meeting(world: World, ews: RunningEws, subject: str) -> str:
    start = datetime(2026, 11, 30, 10, 0, tzinfo=BERLIN)
    return ews.state.add_calendar_item(
        {
            "subject": subject,
            "start": start,
            "end": start + timedelta(hours=1),
            "timezone": "W. Europe Standard Time",
            "required": [{"email": "bob@globex.com", "name": "Bob Baker", "response": "accepted"}],
        }
    )


def test_spec_2_a_session_saves_mail_and_meetings_and_an_idle_one_costs_a_call_per_folder(
    world: tuple[World, RunningEws],
) -> None:
    w, ews = world
    email_id = deliver(w, ews, "Bob Baker <bob@globex.com>", "Pricing question")
    meeting(w, ews, "Pricing call")
    result = w.run()
    assert result.status == "completed", result.message
    [saved] = w.crm.emails.values()
    assert saved.email.subject == "Pricing question" and saved.who_ids == (w.ids["bob"],)
    [event] = [e for e in w.crm.events.values() if e.subject == "Pricing call"]
    assert event.who_ids == (w.ids["bob"],) and event.owner_id == ANN_ID
    assert "Salesforce" in ews.state.categories_of(email_id)  # the user sees what was saved
    # The next session reads back what the first one wrote (the category, the contacts it put
    # into Salesforce Contacts) once; after that a session with nothing changed costs one
    # SyncFolderItems per folder: Inbox, Sent Items, Calendar, Salesforce Contacts (tasks are off).
    w.tick(60)
    assert w.run().status == "completed" and len(w.crm.emails) == 1
    before = w.mailbox.api_calls
    ews.server.reset_counters()
    w.tick(60)
    assert w.run().status == "completed" and len(w.crm.emails) == 1
    assert dict(ews.server.calls) == {"SyncFolderItems": 4}
    assert w.mailbox.api_calls - before == 4


def test_spec_7_6_an_invalid_sync_state_relists_without_duplicates(world: tuple[World, RunningEws]) -> None:
    w, ews = world
    deliver(w, ews, "bob@globex.com", "First question")
    meeting(w, ews, "Kick-off")
    assert w.run().status == "completed"
    events_before = dict(w.crm.events)
    ews.invalidate_sync_states()
    deliver(w, ews, "bob@globex.com", "Second question")
    w.tick(60)
    assert w.run().status == "completed"
    assert sorted(a.email.subject for a in w.crm.emails.values()) == ["First question", "Second question"]
    assert w.crm.events == events_before
    with w.state() as state:
        assert "CURSOR-RESET" in [i.code for i in state.issues()]


def test_spec_4_3_salesforce_events_come_down_tagged_without_invitations(
    world: tuple[World, RunningEws],
) -> None:
    w, ews = world
    start = datetime(2026, 12, 2, 15, 0, tzinfo=BERLIN)
    event = sf_event(w, "Quarterly review", start)
    assert w.run().status == "completed"
    [item_id] = ews.state.items_in("calendar")
    assert ews.state.extended_value(item_id, "rgsync-salesforce-id") == event.id
    assert ews.state.invitation_modes() == [("CreateItem", "SendToNone")] and ews.invitations_sent() == 0
    w.crm.edit(Stream.EVENTS, event.id, subject="Quarterly review (moved)")
    w.tick(60)
    assert w.run().status == "completed"
    assert ews.state.items[item_id].text("Subject") == "Quarterly review (moved)"
    assert all(mode == "SendToNone" for _op, mode in ews.state.invitation_modes())
