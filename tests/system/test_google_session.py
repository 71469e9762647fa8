"""Whole sessions over the Google adapter and the loopback Google emulator (Salesforce in memory):
what a Gmail user sees after `rgsync run`, what an idle session costs (SPEC §10), and recovery from
expired cursors (SPEC §7.6) and broken messages (SPEC §7.8)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from rgsync.providers.google.api import GoogleApi
from rgsync.providers.google.mailbox import GoogleMailbox
from rgsync.sandbox.google import RunningGoogle, start_google
from tests.system.memory_world import ANN_ID, BERLIN, World, make_world, sf_event


@pytest.fixture
def google() -> Iterator[RunningGoogle]:
    running = start_google()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def world(tmp_path: Path, google: RunningGoogle) -> World:
    return make_world(tmp_path / "ann")


def run(world: World, google: RunningGoogle) -> object:
    """One session with a fresh adapter, as each `rgsync run` opens its own."""
    api = GoogleApi(lambda: Credentials(token=google.token), endpoint=google.url)
    world.mailbox = GoogleMailbox(
        api, address="ann@acme.com", aliases=["a.lee@acme.com"], time_zone="Europe/Berlin"
    )  # type: ignore[assignment]
    result = world.run()
    world.tick(60)
    return result


def deliver(
    google: RunningGoogle, world: World, sender: str, subject: str, *, labels: tuple[str, ...] = ("INBOX",)
) -> str:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "ann@acme.com"
    message["Subject"] = subject
    message["Date"] = format_datetime(world.now - timedelta(hours=1))
    message["Message-ID"] = f"<{subject.replace(' ', '.')}@globex.com>"
    message.set_content(f"About {subject}")
    return google.state.add_message(bytes(message), labels=list(labels))


BROKEN = (
    b"From: =?x-unknown?q?Carol?= <carol@initech.com>, @@\r\n"
    b"To: ann@acme.com\r\n"
    b"Subject: =?utf-8?q?Broken_but_readable?=\r\n"
    b"Content-Type: text/plain; charset=x-nonsense\r\n"
    b"\r\n"
    b"Caf\xe9\r\n"
)


def test_a_gmail_session_saves_labels_down_syncs_and_then_idles_at_one_call_per_stream(
    world: World, google: RunningGoogle
) -> None:
    saved = deliver(google, world, "bob@globex.com", "Quote for Globex")
    deliver(google, world, "bob@globex.com", "Spam offer", labels=("SPAM",))
    google.state.add_message(BROKEN, labels=["INBOX"], internal_date=world.now - timedelta(hours=2))
    start = datetime(2026, 11, 30, 10, 0, tzinfo=BERLIN)
    sf_event(world, "Pricing call", start, who_ids=(world.ids["bob"],))

    first = run(world, google)
    assert first.status == "completed", first.message  # type: ignore[attr-defined]
    # The email from a known Contact is saved once, and labelled in Gmail; spam is never read.
    subjects = sorted(a.email.subject for a in world.crm.emails.values())
    assert subjects == ["Broken but readable", "Quote for Globex"]
    labels = google.state.gmail.messages[saved].label_ids
    assert "Salesforce" in {
        str(google.state.gmail.user_labels[i]["name"]) for i in labels if i.startswith("Label_")
    }
    # The Salesforce Event is in the calendar, tagged, and nobody was invited.
    events = [e.resource for e in google.state.calendar.events.values()]
    assert [e["summary"] for e in events] == ["Pricing call"]
    assert events[0]["extendedProperties"]["private"]["rgsync_salesforce_id"]
    assert all(choice == "none" for _m, _i, choice in google.state.calendar.send_updates_log)
    # Ann's Contacts are in the `Salesforce Contacts` group.
    names = sorted(
        str(p.resource["names"][0]["familyName"])
        for p in google.state.people.people.values()
        if not p.deleted
    )
    assert names == ["Baker", "Dunn", "Grant"]

    second = run(world, google)  # sees its own labels and writes echo back once
    assert second.status == "completed"  # type: ignore[attr-defined]
    google.server.reset_counters()
    idle = run(world, google)
    assert idle.status == "completed"  # type: ignore[attr-defined]
    # Emails, events and contacts are on (tasks are off by default): one call each.
    assert idle.api_calls["mailbox"] == 3  # type: ignore[attr-defined]
    assert dict(google.server.calls) == {
        "gmail.history.list": 1,
        "calendar.events.list": 1,
        "people.connections.list": 1,
    }
    assert len(world.crm.emails) == 2 and len(world.crm.events) == 1


def test_expired_cursors_recover_without_duplicates_on_either_side(
    world: World, google: RunningGoogle
) -> None:
    deliver(google, world, "bob@globex.com", "Quote for Globex")
    sf_event(world, "Pricing call", datetime(2026, 11, 30, 10, 0, tzinfo=BERLIN))
    start = datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)
    google.state.add_event(
        {
            "summary": "Globex review",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
            "organizer": {"email": "ann@acme.com", "self": True},
            "attendees": [{"email": "bob@globex.com", "responseStatus": "accepted"}],
        }
    )
    run(world, google)
    run(world, google)
    emails, events = len(world.crm.emails), len(world.crm.events)
    contacts = sum(1 for p in google.state.people.people.values() if not p.deleted)
    calendar = sum(
        1 for e in google.state.calendar.events.values() if e.resource.get("status") != "cancelled"
    )
    assert (emails, events, contacts, calendar) == (1, 2, 3, 2)

    google.state.expire_history()
    google.state.expire_sync_tokens()
    google.state.expire_people_sync_tokens()
    result = run(world, google)
    assert result.status == "completed", result.message  # type: ignore[attr-defined]
    assert (len(world.crm.emails), len(world.crm.events)) == (emails, events)
    assert sum(1 for p in google.state.people.people.values() if not p.deleted) == contacts
    assert (
        sum(1 for e in google.state.calendar.events.values() if e.resource.get("status") != "cancelled")
        == calendar
    )
    with world.state() as state:
        codes = sorted(i.code for i in state.issues(include_resolved=True))
    assert codes.count("CURSOR-RESET") == 3
    assert all(e.owner_id == ANN_ID for e in world.crm.events.values())
