"""What the Exchange adapter spends per email (SPEC §10) without giving up what SPEC §7 keeps:
labelling emails it has just read, and handing SOAP answers to exchangelib's parser — the real
exchangelib against the EWS emulator, nothing mocked (the parser's input is only counted)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from exchangelib import Message
from exchangelib import util as ews_util
from exchangelib.items import ID_ONLY
from exchangelib.services import GetItem, SyncFolderItems, UpdateItem
from lxml import etree

from rgsync.model import EmailItem, Folder, MarkLabel, Stream
from rgsync.providers.exchange import convert, writes
from rgsync.providers.exchange import light as light_reads
from rgsync.providers.exchange.connection import READ_BLOCK
from tests.contract.ews_harness import EwsHarness, open_harness, raw_email
from tests.contract.mailbox_contract import NOW, OPTIONS, drain


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EwsHarness]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    yield from open_harness(tmp_path)


def delivered(harness: EwsHarness, n: int, body: str = "Hi") -> list[str]:
    sent = NOW - timedelta(hours=1)
    ids = []
    for i in range(n):
        raw = (
            f"From: Bob <bob@globex.com>\r\nTo: ann@acme.com\r\nSubject: Cost {i}\r\n"
            f"Message-ID: <cost{i}@globex.com>\r\nDate: {sent.strftime('%a, %d %b %Y %H:%M:%S +0000')}"
            f"\r\n\r\n{body}\r\n"
        ).encode()
        ids.append(harness.ews.state.add_message(raw, "inbox", received=sent))
    return ids


def read_all(harness: EwsHarness) -> list[EmailItem]:
    items, *_ = drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
    return [e for e in items if isinstance(e, EmailItem)]


def test_spec_10_emails_read_in_this_run_are_labelled_without_reading_them_again(
    harness: EwsHarness,
) -> None:
    ids = delivered(harness, 150)
    harness.ews.state.set_categories(ids[0], ["Red"])
    harness.ews.state.set_categories(ids[1], ["Salesforce Thread", "Blue"])
    assert len(read_all(harness)) == 150
    harness.ews.server.reset_counters()
    results = harness.mailbox.mark(
        [MarkLabel(i, "Salesforce") for i in ids] + [MarkLabel(ids[1], "Salesforce Thread", remove=True)]
    )
    assert all(r.ok for r in results) and len(results) == 151
    # The read already told each email's categories: 100 updates per UpdateItem, no GetItem.
    assert dict(harness.ews.server.calls) == {"UpdateItem": 2}
    assert harness.labels_of(ids[0]) == {"Red", "Salesforce"}
    assert harness.labels_of(ids[1]) == {"Blue", "Salesforce"}
    assert all(harness.labels_of(i) == {"Salesforce"} for i in ids[2:])


def test_spec_7_a_category_the_user_set_after_the_read_is_kept_when_rgsync_labels_the_email(
    harness: EwsHarness,
) -> None:
    first, second = delivered(harness, 2)
    read_all(harness)
    harness.ews.state.set_categories(second, ["Green"])  # in Outlook, between the read and the label
    harness.ews.server.reset_counters()
    results = harness.mailbox.mark([MarkLabel(first, "Salesforce"), MarkLabel(second, "Salesforce")])
    assert [r.ok for r in results] == [True, True]
    assert harness.labels_of(first) == {"Salesforce"}
    assert harness.labels_of(second) == {"Green", "Salesforce"}
    # The changed one is refused for its ChangeKey, read again and labelled from what it is now.
    assert dict(harness.ews.server.calls) == {"UpdateItem": 2, "GetItem": 1}


def test_spec_7_labelling_twice_in_one_run_uses_what_the_first_label_left(harness: EwsHarness) -> None:
    [mid] = delivered(harness, 1)
    read_all(harness)
    harness.mailbox.mark([MarkLabel(mid, "Salesforce")])
    harness.ews.server.reset_counters()
    [result] = harness.mailbox.mark([MarkLabel(mid, "Salesforce Sync Error")])
    assert result.ok
    assert harness.labels_of(mid) == {"Salesforce", "Salesforce Sync Error"}
    assert dict(harness.ews.server.calls) == {"UpdateItem": 1}


def test_an_email_deleted_after_the_read_is_reported_not_found(harness: EwsHarness) -> None:
    """The session drops the label of a deleted email from its journal on MAIL-NOT-FOUND."""
    kept, gone = delivered(harness, 2)
    read_all(harness)
    harness.ews.state.delete_item(gone)
    results = harness.mailbox.mark([MarkLabel(kept, "Salesforce"), MarkLabel(gone, "Salesforce")])
    assert results[0].ok and harness.labels_of(kept) == {"Salesforce"}
    assert not results[1].ok and results[1].error_code == "MAIL-NOT-FOUND"


def test_soap_answers_reach_the_parser_in_blocks_not_byte_by_byte(
    harness: EwsHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivered(harness, 40, body="word " * 2000)
    chunks: list[int] = []
    plain_init = ews_util.BytesGeneratorIO.__init__

    def counted(self: Any, bytes_generator: Iterator[bytes]) -> None:
        def counting() -> Iterator[bytes]:
            for chunk in bytes_generator:
                chunks.append(len(chunk))
                yield chunk

        plain_init(self, counting())

    monkeypatch.setattr(ews_util.BytesGeneratorIO, "__init__", counted)
    emails = read_all(harness)
    assert len(emails) == 40 and all(e.text_body.startswith("word word") for e in emails)
    received = sum(chunks)
    assert received > 400_000  # the bodies came through the parser
    assert len(chunks) <= received // READ_BLOCK + 10 * harness.ews.server.calls.get("GetItem", 1)


def test_spec_10_a_long_listing_does_not_read_again_the_emails_it_labelled_meanwhile(
    harness: EwsHarness,
) -> None:
    """SPEC §7: an email the user changed after rgsync labelled it is still read again."""
    ids = delivered(harness, 12)
    harness.mailbox.sync_page = 5
    pages = harness.mailbox.changes(Stream.EMAILS, None, OPTIONS)
    first = next(pages)
    labelled = [e.mailbox_id for e in first.items]
    assert len(labelled) == 5
    harness.mailbox.mark([MarkLabel(i, "Salesforce") for i in labelled])  # the session saves a chunk
    harness.ews.state.set_categories(labelled[0], ["Salesforce", "Orange"])  # then the user edits one
    rest = [e for page in pages for e in page.items if isinstance(e, EmailItem)]
    assert sorted(e.mailbox_id for e in rest) == sorted([labelled[0], *(i for i in ids if i not in labelled)])
    assert next(e for e in rest if e.mailbox_id == labelled[0]).labels == {"Salesforce", "Orange"}


@pytest.mark.parametrize(
    "received",
    ["2026-01-02T03:04:05Z", "2026-01-02T05:04:05+02:00", "2026-01-02T03:04:05.250Z", "2026-01-02T03:04:05"],
)
def test_a_listed_email_carries_what_exchangelib_reads_from_the_same_change(
    harness: EwsHarness, received: str
) -> None:
    """The cheap listing must agree with exchangelib on id, ChangeKey, received time and
    categories (the history window and the echo rules of SPEC §3.6 and §10 rest on them)."""
    tns = "http://schemas.microsoft.com/exchange/services/2006/types"
    change = etree.fromstring(
        f'<t:Create xmlns:t="{tns}"><t:Message><t:ItemId Id="AAMkAD1" ChangeKey="CQAAAB"/>'
        f"<t:DateTimeReceived>{received}</t:DateTimeReceived>"
        "<t:Categories><t:String>Red</t:String><t:String>Salesforce</t:String></t:Categories>"
        "</t:Message></t:Create>"
    )
    account = harness.mailbox._account
    kind, light = light_reads.ListEmails(account=account)._elem_to_obj(change)
    plain_kind, plain = SyncFolderItems(account=account)._elem_to_obj(change)
    assert kind == plain_kind == "create"
    assert (light.id, light.changekey, light.categories) == ("AAMkAD1", "CQAAAB", ["Red", "Salesforce"])
    assert light.datetime_received == plain.datetime_received
    if not received.endswith(".250Z"):  # exchangelib reads no fraction of a second
        assert light.datetime_received == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_emails_fetched_cheaply_convert_exactly_as_exchangelibs_messages(harness: EwsHarness) -> None:
    """Every field an EmailItem takes (addresses, bodies, dates, headers, item class — SPEC §3.1)
    comes out the same as from exchangelib's own Message for the same GetItem."""
    sent = NOW - timedelta(hours=1)
    html = EmailMessage()
    html["From"], html["To"], html["Cc"] = "Bob <bob@globex.com>", "ann@acme.com", "Cy <cy@globex.com>"
    html["Subject"], html["Message-ID"] = "Prices", "<html1@globex.com>"
    html.set_content("Plain prices")
    html.add_alternative("<p>Our <b>prices</b></p>", subtype="html")
    ids = [
        harness.ews.state.add_message(html.as_bytes(), "inbox", received=sent),
        harness.ews.state.add_message(
            raw_email(sender="postmaster@globex.com", to=("ann@acme.com",), subject="NDR", sent_at=sent),
            "inbox",
            item_class="REPORT.IPM.Note.NDR",
            received=sent,
        ),
        harness.ews.state.add_message(
            raw_email(
                sender="bob@globex.com",
                to=("ann@acme.com",),
                subject="Away",
                sent_at=sent,
                headers={"Auto-Submitted": "auto-replied"},
            ),
            "inbox",
            item_class="IPM.Schedule.Meeting.Request",
            received=sent,
        ),
    ]
    harness.ews.state.set_categories(ids[0], ["Red"])
    cheap = [item for item, _noted in harness.mailbox._fetch(Message, ids, convert.EMAIL_FIELDS)]
    assert all(isinstance(item, light_reads.FetchedEmail) for item in cheap)
    plain = list(
        GetItem(account=harness.mailbox._account).call(
            items=[(i, None) for i in ids],
            additional_fields=convert.field_paths(Message, convert.EMAIL_FIELDS),
            shape=ID_ONLY,
        )
    )
    assert [type(p).__name__ for p in plain] == ["Message", "Message", "MeetingRequest"]
    for light, full in zip(cheap, plain, strict=True):
        assert (light.id, light.changekey) == (full.id, full.changekey)
        assert convert.email_item(light, Folder.INBOX, now=NOW) == convert.email_item(
            full, Folder.INBOX, now=NOW
        )
    emails = [convert.email_item(item, Folder.INBOX, now=NOW) for item in cheap]
    assert emails[0].html_body and emails[0].cc and emails[0].labels == {"Red"}
    assert dict(emails[0].headers)["from"] == "Bob <bob@globex.com>"
    assert emails[1].item_class == "REPORT.IPM.Note.NDR" and emails[2].auto_submitted == "auto-replied"


@pytest.mark.parametrize(("changekey", "categories"), [("CQAAAB", ["Red", "Salesforce"]), (None, [])])
def test_a_category_update_is_the_request_exchangelib_sends_for_a_message(
    harness: EwsHarness, changekey: str | None, categories: list[str]
) -> None:
    """Same SetItemField (or DeleteItemField when none is left) and ItemId as exchangelib's."""
    account = harness.mailbox._account
    settings = {
        "conflict_resolution": "NeverOverwrite",
        "message_disposition": "SaveOnly",
        "send_meeting_invitations_or_cancellations": "SendToNone",
        "suppress_read_receipts": True,
    }
    stub = Message(account=account, id="AAMkAD1", changekey=changekey, categories=categories or None)
    plain = UpdateItem(account=account).get_payload(items=[(stub, ["categories"])], **settings)
    lean = writes.CategoryUpdate(account=account).get_payload(
        items=[writes.CategoryChange("AAMkAD1", changekey, categories)], **settings
    )
    assert etree.tostring(lean) == etree.tostring(plain)
    assert (b"DeleteItemField" in etree.tostring(lean)) is not bool(categories)
