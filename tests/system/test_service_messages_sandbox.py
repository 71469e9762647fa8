"""Bounces and auto-replies are never saved, on every mailbox kind (SPEC §3.1).

The corpus of tests/data/mail (real bounces, auto-replies, read receipts) is delivered to the
Gmail, EWS and Graph emulators and synced by the real adapters; the Salesforce side is in memory.
Each message is re-addressed to Ann with Bob of Globex (a Contact) in Cc and dated an hour ago, so
that it would be saved if it were taken for a person's email. A person's email from Bob, delivered
alongside, is the control: it is saved.
"""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from google.oauth2.credentials import Credentials

from rgsync.credentials import CredentialStore
from rgsync.model import MailboxConnection
from rgsync.paths import Paths
from rgsync.providers.exchange import PASSWORD_SECRET, ExchangeConnection, open_exchange
from rgsync.providers.google.api import GoogleApi
from rgsync.providers.google.mailbox import GoogleMailbox
from rgsync.providers.microsoft365 import mailbox_from_settings, sign_in_config
from rgsync.providers.microsoft365.auth import http_session, start_device_sign_in
from rgsync.sandbox.ews import start_ews
from rgsync.sandbox.google import start_google
from rgsync.sandbox.graph import start_graph
from tests.system.memory_world import World, make_world

CORPUS = Path(__file__).resolve().parents[1] / "data" / "mail"
PERSON_WRITTEN = {"flufl-bounce/groupwise_03.txt"}
CONTROL_SUBJECT = "Quote for Globex"


def service_messages() -> list[Path]:
    """The bounces and auto-replies of the corpus (person-written look-alikes left out)."""
    found = [
        path
        for folder in ("flufl-bounce", "shapes")
        for path in sorted((CORPUS / folder).iterdir())
        if path.suffix in (".txt", ".eml") and not path.name.startswith(("LICENSE", "person-"))
    ]
    found.append(CORPUS / "mail-parser" / "mail_malformed_2.eml")
    return [p for p in found if str(p.relative_to(CORPUS)) not in PERSON_WRITTEN]


def readdressed(path: Path, world: World, n: int) -> bytes:
    """The message as Ann's mailbox would receive it: to Ann, Bob in Cc, sent an hour ago."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
    for name, value in (
        ("To", "ann@acme.com"),
        ("Cc", "bob@globex.com"),
        ("Date", format_datetime(world.now - timedelta(hours=1))),
        ("Message-ID", f"<corpus-{n}@rgsync.test>"),
    ):
        del message[name]
        message[name] = value
    return message.as_bytes()


def control(world: World) -> bytes:
    message = email.message.EmailMessage()
    message["From"], message["To"], message["Subject"] = "bob@globex.com", "ann@acme.com", CONTROL_SUBJECT
    message["Date"] = format_datetime(world.now - timedelta(hours=1))
    message["Message-ID"] = "<control@globex.com>"
    message.set_content("Here is the quote.")
    return bytes(message)


def check(world: World, delivered: int) -> None:
    result = world.run()
    assert result.status == "completed", result.message
    emails = next(s for stream, s in result.streams.items() if stream.value == "emails")
    assert [e.email.subject for e in world.crm.emails.values()] == [CONTROL_SUBJECT]
    assert emails.skipped["service-message"] == delivered


pytestmark = pytest.mark.usefixtures("file_keyring")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "ann")


def test_spec_3_1_gmail_saves_no_bounce_or_auto_reply(world: World) -> None:
    google = start_google()
    try:
        messages = service_messages()
        for n, path in enumerate(messages):
            google.state.add_message(readdressed(path, world, n), labels=["INBOX"])
        google.state.add_message(control(world), labels=["INBOX"])
        api = GoogleApi(lambda: Credentials(token=google.token), endpoint=google.url)
        world.mailbox = GoogleMailbox(  # type: ignore[assignment]
            api, address="ann@acme.com", aliases=[], time_zone="Europe/Berlin"
        )
        check(world, len(messages))
    finally:
        google.stop()


def test_spec_3_1_exchange_saves_no_bounce_or_auto_reply(world: World, tmp_path: Path) -> None:
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
                "time-zone": "Europe/Berlin",
            }
        )
    )
    mailbox = open_exchange(
        ExchangeConnection.from_table(settings.mailbox.table()),
        CredentialStore(paths.profile, paths.credentials_file),
        clock=lambda: world.now,
    )
    try:
        messages = service_messages()
        received = world.now - timedelta(hours=1)
        for n, path in enumerate(messages):
            ews.state.add_message(readdressed(path, world, n), "inbox", received=received)
        ews.state.add_message(control(world), "inbox", received=received)
        world.mailbox = mailbox  # type: ignore[assignment]
        check(world, len(messages))
    finally:
        mailbox.close()
        ews.stop()


def test_spec_3_1_microsoft365_saves_no_bounce_or_auto_reply(world: World, tmp_path: Path) -> None:
    graph = start_graph(
        tmp_path,
        scenario={"user": {"address": "ann@acme.com", "name": "Ann Lee", "time_zone": "Europe/Berlin"}},
        clock=lambda: world.now,
    )
    try:
        table = {
            "address": "ann@acme.com",
            "time-zone": "Europe/Berlin",
            "graph-url": graph.graph_url,
            "authority-url": graph.url,
            "tenant-id": graph.tenant_id,
            "client-id": graph.client_id,
            "ca-file": str(graph.ca_file),
        }
        store = CredentialStore("ann", tmp_path / "credentials.json")
        config = sign_in_config(table)
        start_device_sign_in(config, store, http_session(config.ca_file)).wait(sleep=lambda _s: None)
        messages = service_messages()
        received = world.now - timedelta(hours=1)
        for n, path in enumerate(messages):
            graph.state.add_message(readdressed(path, world, n), "inbox", received=received)
        graph.state.add_message(control(world), "inbox", received=received)
        world.mailbox = mailbox_from_settings(table, store)  # type: ignore[assignment]
        try:
            check(world, len(messages))
        finally:
            world.mailbox.close()
    finally:
        graph.stop()
