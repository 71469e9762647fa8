"""Real messages that broke an emulator or an adapter, read through every mailbox adapter
(SPEC §7.8: odd input is read or skipped with a reason, never a crash).

Each message is delivered raw to the Gmail, EWS and Graph emulators and listed by the real adapter
(google-api-python-client, exchangelib, requests + msal) over HTTP; nothing is mocked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from rgsync.model import EmailItem, Stream
from rgsync.providers.base import Mailbox
from rgsync.providers.salesforce.mapping import plain_body
from rgsync.sandbox.google import start_google
from tests.contract.ews_harness import open_harness
from tests.contract.graph_harness import GraphHarness, running_graph
from tests.contract.mailbox_contract import NOW, OPTIONS, drain
from tests.contract.test_google_mailbox import google_mailbox

CORPUS = Path(__file__).resolve().parents[1] / "data" / "mail"
RECEIVED = NOW - timedelta(hours=1)


@dataclass
class Inbox:
    """An adapter and a way to drop a raw message into the inbox behind it."""

    mailbox: Mailbox
    deliver: Callable[[bytes], str]

    def emails(self) -> list[EmailItem]:
        """Two listings in a row, as two sessions would do: the second must work too."""
        items, _, cursor, _, _ = drain(self.mailbox.changes(Stream.EMAILS, None, OPTIONS))
        drain(self.mailbox.changes(Stream.EMAILS, cursor, OPTIONS))
        return [i for i in items if isinstance(i, EmailItem)]


@pytest.fixture(params=["gmail", "exchange", "microsoft365"])
def inbox(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    if request.param == "gmail":
        google = start_google()
        try:
            yield Inbox(
                google_mailbox(google),
                lambda raw: google.state.add_message(raw, labels=["INBOX"], internal_date=RECEIVED),
            )
        finally:
            google.stop()
    elif request.param == "exchange":
        for harness in open_harness(tmp_path):
            ews = harness.ews
            yield Inbox(
                harness.mailbox, lambda raw, ews=ews: ews.state.add_message(raw, "inbox", received=RECEIVED)
            )
    else:
        for graph in running_graph(tmp_path, now=NOW):
            harness = GraphHarness(graph, tmp_path)
            try:
                yield Inbox(
                    harness.mailbox,
                    lambda raw, graph=graph: graph.state.add_message(raw, "inbox", received=RECEIVED),
                )
            finally:
                harness.mailbox.close()


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def test_spec_7_8_a_date_with_a_three_digit_year_is_read_and_listing_goes_on(inbox: Inbox) -> None:
    """`Date: Mon, 2 Apr 101` (RFC 5322 §4.3: the year 2001) must not break later listings."""
    inbox.deliver(corpus("flufl-bounce/smtp32_01.txt"))
    inbox.deliver(corpus("mail-parser/mail_test_19.eml"))
    emails = inbox.emails()
    assert len(emails) == 2
    [old] = [e for e in emails if e.subject == "Undeliverable Mail"]
    assert (old.sent_at.year, old.sent_at.month, old.sent_at.day) == (2001, 4, 2)


def test_spec_7_8_an_encoded_comma_in_a_display_name_keeps_the_address(inbox: Inbox) -> None:
    """`=?iso-8859-1?Q?Last=DFlName=2C_FirstName?= <comma.name@example.com>` is one address."""
    inbox.deliver(corpus("mail-parser/mail_test_18.eml"))
    [item] = inbox.emails()
    assert item.sender is not None and item.sender.email == "comma.name@example.com"
    assert item.sender.name == "LastßlName, FirstName"
    assert [a.email for a in item.to] == ["tony.stark@example.com"]
    assert [a.email for a in item.cc] == ["simple@example.net", "john.doe@example.com"]


@pytest.mark.parametrize("name", ["flufl-bounce/dsn_13.txt", "flufl-bounce/dsn_15.txt"])
def test_spec_7_8_a_utf7_message_is_read(inbox: Inbox, name: str) -> None:
    """Bodies in `unicode-1-1-utf-7`, Exchange's name for UTF-7."""
    inbox.deliver(corpus(name))
    [item] = inbox.emails()
    assert item.subject == "Delivery Status Notification (Failure)"
    assert item.sender is not None and plain_body(item)


def test_spec_7_8_a_utf7_body_with_a_lone_surrogate_is_read(inbox: Inbox) -> None:
    """UTF-7 can encode half of a surrogate pair (`+2D0-`); the emulator answered 500 to it."""
    inbox.deliver(
        b"From: Bob Baker <bob@globex.com>\r\nTo: ann@acme.com\r\nSubject: Smile\r\n"
        b"Date: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <utf7@globex.com>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n"
        b"Caf+AOk- is open +2D0- today\r\n"
    )
    [item] = inbox.emails()
    assert plain_body(item).startswith("Café is open")
    plain_body(item).encode("utf-8")


def test_spec_7_8_undecodable_bytes_never_reach_salesforce_as_lone_surrogates(inbox: Inbox) -> None:
    raw = (
        b"From: Bob Baker <bob@globex.com>\r\nTo: ann@acme.com\r\nSubject: Caf\xe9 order\r\n"
        b"Date: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <bytes@globex.com>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 au lait \xff\xfe for two\r\n"
    )
    inbox.deliver(raw)
    [item] = inbox.emails()
    for text in (item.subject, plain_body(item), item.html_body):
        text.encode("utf-8")  # a lone surrogate cannot be encoded
    assert "au lait" in plain_body(item)


def test_spec_3_a_text_plain_part_or_the_links_of_the_html_are_kept(inbox: Inbox) -> None:
    """An HTML-and-text email keeps its links in the saved text.

    Gmail reads the text/plain part. Exchange and Graph store one body, the HTML; their text is
    made from it with each link kept as `text <target>`.
    """
    raw = (
        b"From: Bob Baker <bob@globex.com>\r\nTo: ann@acme.com\r\nSubject: The quote\r\n"
        b"Date: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <alt@globex.com>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        b"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"The quote is at https://files.globex.com/q/42 until Friday.\r\n"
        b"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<p>The <a href="https://files.globex.com/q/42">quote</a> is online until Friday.</p>\r\n'
        b"--alt--\r\n"
    )
    inbox.deliver(raw)
    [item] = inbox.emails()
    assert "https://files.globex.com/q/42" in plain_body(item)
