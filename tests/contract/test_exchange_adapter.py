"""The Exchange adapter beyond the shared contract: API cost, crash resumption, throttling, expired
sync states, invitations, time zones, recurring series — the real exchangelib against the EWS
emulator, nothing mocked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from rgsync.model import (
    Address,
    Attendee,
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    EmailItem,
    Folder,
    MarkLabel,
    RecordKind,
    Stream,
    TaskItem,
    Update,
)
from rgsync.providers.base import AuthError, MailboxReadOptions, RetriableError, UncertainWrite
from rgsync.sandbox.http import Fault
from rgsync.session.reconcile import send_reconciled
from tests.contract.ews_harness import EwsHarness, calendar_spec, open_harness, raw_email
from tests.contract.mailbox_contract import NOW, OPTIONS, drain

ALL_STREAMS = (Stream.EMAILS, Stream.EVENTS, Stream.TASKS, Stream.CONTACTS)


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EwsHarness]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    yield from open_harness(tmp_path, time_zone="Europe/Berlin")


def inbox_email(harness: EwsHarness, subject: str, *, hours_ago: float = 1, **headers: str) -> str:
    sent = NOW - timedelta(hours=hours_ago)
    raw = raw_email(
        sender="bob@globex.com", to=("ann@acme.com",), subject=subject, sent_at=sent, headers=headers
    )
    return harness.ews.state.add_message(raw, "inbox", received=sent)


def bulk_raw(n: int, sent: datetime) -> bytes:
    """A minimal delivered message, built as text (thousands of them must load fast)."""
    return (
        f"From: Bob <bob@globex.com>\r\nTo: ann@acme.com\r\nSubject: Bulk {n}\r\n"
        f"Message-ID: <bulk{n}@globex.com>\r\nDate: {sent.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n\r\nHi {n}\r\n"
    ).encode()


def first_listing(harness: EwsHarness) -> dict[Stream, str]:
    cursors = {}
    for stream in ALL_STREAMS:
        _items, _gone, cursor, full, _reset = drain(harness.mailbox.changes(stream, None, OPTIONS))
        assert full and cursor
        cursors[stream] = cursor
    return cursors


# --- API cost (SPEC §10) ------------------------------------------------------------------------


def test_a_session_after_nothing_changed_costs_one_sync_call_per_folder(harness: EwsHarness) -> None:
    inbox_email(harness, "Already read")
    cursors = first_listing(harness)
    harness.ews.server.reset_counters()
    before = harness.mailbox.api_calls
    for stream in ALL_STREAMS:
        items, gone, cursor, full, _reset = drain(harness.mailbox.changes(stream, cursors[stream], OPTIONS))
        assert (items, gone, full) == ([], [], False) and cursor
    # Inbox, Sent Items, Calendar, Salesforce Tasks, Salesforce Contacts: one SyncFolderItems each.
    assert dict(harness.ews.server.calls) == {"SyncFolderItems": 5}
    assert harness.mailbox.api_calls - before == 5


# --- crash resumption (SPEC §7.1) ---------------------------------------------------------------


def test_a_crash_in_the_middle_of_a_long_listing_resumes_where_it_stopped(harness: EwsHarness) -> None:
    sent = NOW - timedelta(hours=2)
    for n in range(1100):
        harness.ews.state.add_message(bulk_raw(n, sent), "inbox", received=sent)
    # Old mail delivered last lands on the last page: the history window must hold after resuming.
    old = NOW - timedelta(days=30)
    for n in range(3):
        harness.ews.state.add_message(bulk_raw(5000 + n, old), "inbox", received=old)
    pages = harness.mailbox.changes(Stream.EMAILS, None, OPTIONS)
    first = next(pages)
    assert len(first.items) == 512 and first.full and first.cursor
    pages.close()  # the process dies here; only the first page was recorded
    resumed = list(harness.mailbox.changes(Stream.EMAILS, first.cursor, OPTIONS))
    seen = [e.mailbox_id for e in first.items] + [e.mailbox_id for p in resumed for e in p.items]
    assert len(seen) == len(set(seen)) == 1100
    assert all(
        isinstance(e, EmailItem) and e.subject.startswith("Bulk") and int(e.subject[5:]) < 5000
        for p in resumed
        for e in p.items
    )
    assert [len(p.items) for p in resumed] == [512, 76, 0]  # rest of Inbox, then Sent Items
    assert all(p.cursor for p in resumed) and resumed[-1].last
    # 512 changes per SyncFolderItems page: three pages for the Inbox in all, one for Sent Items.
    assert harness.ews.calls("SyncFolderItems") == 4


# --- failures are classified here, retried by the session's one policy (SPEC §7.3) ------------------


def read_emails(harness: EwsHarness) -> tuple[list[object], str | None]:
    """A full email read as the session does it: the whole listing again after a transient failure."""
    items, _gone, cursor, _full, _reset = harness.retrier.call(
        lambda: drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
    )
    return items, cursor


def test_spec_7_3_throttling_is_retried_after_the_servers_back_off_and_then_succeeds(
    harness: EwsHarness,
) -> None:
    inbox_email(harness, "Through the throttle")
    harness.ews.inject_server_busy("SyncFolderItems", times=2, back_off_ms=1500)
    items, cursor = read_emails(harness)
    assert [e.subject for e in items if isinstance(e, EmailItem)] == ["Through the throttle"]
    assert harness.sleeps.waits == [1.5, 1.5]  # BackOffMilliseconds honoured, nothing slept for real
    assert harness.ews.calls("SyncFolderItems") == 4  # 2 refused + Inbox + Sent Items
    assert cursor


def test_spec_7_3_the_adapter_sends_a_throttled_call_once_and_says_how_long_to_wait(
    harness: EwsHarness,
) -> None:
    harness.ews.inject_server_busy("SyncFolderItems", times=10, back_off_ms=2000)
    with pytest.raises(RetriableError) as failure:
        drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
    assert failure.value.code == "MAIL-THROTTLED" and failure.value.retry_after == 2.0
    assert harness.ews.calls("SyncFolderItems") == 1  # no retry inside the adapter: no nesting
    assert harness.sleeps.waits == []


def test_spec_7_3_server_errors_and_dropped_connections_are_retried_by_the_session(
    harness: EwsHarness,
) -> None:
    inbox_email(harness, "Bumpy road")
    harness.ews.inject_5xx("SyncFolderItems", status=503)
    harness.ews.drop_connection("GetItem")
    items, _cursor = read_emails(harness)
    assert [e.subject for e in items if isinstance(e, EmailItem)] == ["Bumpy road"]
    assert len(harness.sleeps.waits) == 2


@pytest.mark.parametrize("applied", [True, False], ids=["reply-lost-after-create", "dropped-before-create"])
def test_spec_7_1_a_create_whose_answer_was_lost_is_reconciled_not_sent_blind(
    harness: EwsHarness, applied: bool
) -> None:
    record = TaskItem(id="", subject="Call Bob", salesforce_id="00T000000000009AAA")
    drain(harness.mailbox.changes(Stream.TASKS, None, OPTIONS))
    harness.ews.server.faults.add(Fault(match=r" CreateItem$", lose_reply=applied, drop=not applied))
    writes = [Create(RecordKind.TASK, "00T000000000009AAA", record)]
    [result] = send_reconciled(
        writes,
        lambda ws: harness.mailbox.apply(Stream.TASKS, ws),
        lambda _kind, keys: harness.mailbox.find_tagged(Stream.TASKS, keys),
        harness.retrier,
        "tasks",
    )
    assert result.ok
    assert harness.ews.state.items_in("tasks/Salesforce Tasks") == [result.id]
    assert harness.ews.calls("FindItem") == 1  # looked for the tag before deciding
    # Applied: adopted, never sent again. Not applied: not found, so sent again once.
    assert harness.ews.calls("CreateItem") == (1 if applied else 2)


def test_spec_7_1_the_adapter_reports_a_lost_create_as_uncertain_not_retriable(harness: EwsHarness) -> None:
    record = TaskItem(id="", subject="Call Ann", salesforce_id="00T000000000010AAA")
    drain(harness.mailbox.changes(Stream.TASKS, None, OPTIONS))
    harness.ews.drop_connection("CreateItem")
    with pytest.raises(UncertainWrite) as failure:
        harness.mailbox.apply(Stream.TASKS, [Create(RecordKind.TASK, "00T000000000010AAA", record)])
    assert not isinstance(failure.value, RetriableError)  # never re-sent blind by a generic retry
    assert harness.ews.calls("CreateItem") == 1


def test_a_refused_password_is_a_mail_auth_error_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    for harness in open_harness(tmp_path):
        harness.ews.state.password = "changed-by-the-admin"
        with pytest.raises(AuthError) as failure:
            drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
        assert failure.value.code == "MAIL-AUTH"
        assert "rgsync connect exchange" in failure.value.advice
        assert harness.ews.calls("SyncFolderItems") == 1  # a refused sign-in is not retried


@pytest.mark.parametrize("impersonate", [True, False])
def test_a_service_account_reaches_the_mailbox_only_by_impersonation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, impersonate: bool
) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    service = {"user": {"service_accounts": [{"username": "svc-rgsync", "password": "svc-secret"}]}}
    for harness in open_harness(
        tmp_path, scenario=service, password="svc-secret", username="svc-rgsync", impersonate=impersonate
    ):
        inbox_email(harness, "For Ann")
        if impersonate:
            items, *_ = drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
            assert [e.subject for e in items if isinstance(e, EmailItem)] == ["For Ann"]
        else:
            with pytest.raises(AuthError) as failure:
                drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
            assert failure.value.code == "MAIL-AUTH"


# --- invalid sync states (SPEC §7.6) -----------------------------------------------------------------


def test_an_invalid_sync_state_lists_the_folder_again_once(harness: EwsHarness) -> None:
    _items, _gone, cursor, _full, _reset = drain(harness.mailbox.changes(Stream.TASKS, None, OPTIONS))
    harness.ews.state.add_task({"subject": "Mine"}, "tasks/Salesforce Tasks")
    harness.ews.invalidate_sync_states()
    items, _gone, cursor, full, reset = drain(harness.mailbox.changes(Stream.TASKS, cursor, OPTIONS))
    assert full and reset and cursor
    assert [t.subject for t in items if isinstance(t, TaskItem)] == ["Mine"]
    items, *_ = drain(harness.mailbox.changes(Stream.TASKS, cursor, OPTIONS))
    assert items == []


def test_a_deleted_salesforce_folder_is_made_again(harness: EwsHarness) -> None:
    _items, _gone, cursor, *_ = drain(harness.mailbox.changes(Stream.CONTACTS, None, OPTIONS))
    folder = harness.ews.state.resolve_folder("contacts/Salesforce Contacts")
    harness.ews.state.delete_folder(folder.id)
    _items, _gone, cursor, full, reset = drain(harness.mailbox.changes(Stream.CONTACTS, cursor, OPTIONS))
    assert full and reset and cursor
    assert harness.ews.state.resolve_folder("contacts/Salesforce Contacts", create=False).id != folder.id


# --- calendar ----------------------------------------------------------------------------------------


def test_every_calendar_write_sends_no_invitation(harness: EwsHarness) -> None:
    start = NOW + timedelta(days=2)
    record = CalendarItem(
        id="",
        subject="Salesforce meeting",
        start=start,
        end=start + timedelta(hours=1),
        attendees=(Attendee(Address("bob@globex.com")), Attendee(Address("carol@initech.com"))),
        salesforce_id="00U000000000002AAA",
    )
    [created] = harness.mailbox.apply(Stream.EVENTS, [Create(RecordKind.EVENT, "k", record)])
    changes = {
        "attendees": (Attendee(Address("dave@globex.com")),),
        "start": start + timedelta(hours=1),
        "end": start + timedelta(hours=2),
    }
    [updated] = harness.mailbox.apply(Stream.EVENTS, [Update(RecordKind.EVENT, str(created.id), changes)])
    [deleted] = harness.mailbox.apply(Stream.EVENTS, [Delete(RecordKind.EVENT, str(created.id))])
    assert created.ok and updated.ok and deleted.ok
    assert harness.ews.state.invitation_modes() == [
        ("CreateItem", "SendToNone"),
        ("UpdateItem", "SendToNone"),
        ("DeleteItem", "SendToNone"),
    ]
    assert harness.invitations_sent() == 0


def test_windows_time_zones_are_mapped_and_an_unknown_one_is_reported(harness: EwsHarness) -> None:
    berlin = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
    harness.ews.state.add_calendar_item(
        {
            "subject": "Berlin",
            "start": berlin,
            "end": berlin + timedelta(hours=1),
            "timezone": "W. Europe Standard Time",
        }
    )
    harness.ews.state.add_calendar_item(
        {
            "subject": "Mars",
            "start": berlin,
            "end": berlin + timedelta(hours=1),
            "timezone": "Olympus Mons Standard Time",
        }
    )
    items, *_ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
    by_subject = {e.subject: e for e in items if isinstance(e, CalendarItem)}
    assert by_subject["Berlin"].start == berlin and by_subject["Berlin"].timezone_unmapped == ""
    assert by_subject["Mars"].timezone_unmapped == "Olympus Mons Standard Time"
    assert by_subject["Mars"].start == berlin  # the instant is still known: EWS sends UTC


def test_recurring_series_are_synced_occurrence_by_occurrence(harness: EwsHarness) -> None:
    first = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    series = harness.ews.state.add_calendar_item(
        {
            "subject": "Weekly sync",
            "start": first,
            "end": first + timedelta(minutes=30),
            "timezone": "W. Europe Standard Time",
            "required": [{"email": "bob@globex.com", "response": "accepted"}],
            "recurrence": {"pattern": "weekly", "count": 4},
        }
    )
    items, _gone, cursor, *_ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
    occurrences = [e for e in items if isinstance(e, CalendarItem)]
    assert [o.start for o in occurrences] == [first + timedelta(weeks=n) for n in range(4)]
    assert len({o.id for o in occurrences}) == 4 and {o.series_id for o in occurrences} != {""}
    # The user moves the third occurrence: the series changed, so the window is listed again.
    third = harness.ews.state.occurrences(series)[2]
    harness.ews.state.update_item(
        third,
        {
            "subject": "Weekly sync (moved)",
            "start": first + timedelta(weeks=2, hours=2),
            "end": first + timedelta(weeks=2, hours=3),
        },
    )
    items, gone, cursor, full, _reset = drain(harness.mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
    assert full and gone == []
    assert sorted(e.subject for e in items if isinstance(e, CalendarItem)) == ["Weekly sync"] * 3 + [
        "Weekly sync (moved)"
    ]
    # Deleting the series leaves a full listing without any of its occurrences.
    harness.ews.state.delete_item(series)
    items, _gone, cursor, full, _reset = drain(harness.mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
    assert full and items == []
    harness.ews.server.reset_counters()
    drain(harness.mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
    assert dict(harness.ews.server.calls) == {"SyncFolderItems": 1}


def test_a_changed_single_meeting_costs_one_sync_and_one_get(harness: EwsHarness) -> None:
    start = NOW + timedelta(days=1)
    event = harness.ews.state.add_calendar_item(
        {"subject": "Demo", "start": start, "end": start + timedelta(hours=1)}
    )
    _items, _gone, cursor, *_ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
    harness.ews.state.update_item(event, {"location": "Room 2"})
    harness.ews.server.reset_counters()
    items, _gone, _cursor, full, _reset = drain(harness.mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
    assert not full and [e.location for e in items if isinstance(e, CalendarItem)] == ["Room 2"]
    assert dict(harness.ews.server.calls) == {"SyncFolderItems": 1, "GetItem": 1}


def test_days_entering_the_window_are_listed_when_it_moves_on(harness: EwsHarness) -> None:
    later = OPTIONS.calendar_end + timedelta(days=3)
    harness.ews.state.add_calendar_item(
        {"subject": "Far ahead", "start": later, "end": later + timedelta(hours=1)}
    )
    items, _gone, cursor, *_ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
    assert items == []
    moved = MailboxReadOptions(
        email_since=OPTIONS.email_since,
        calendar_start=OPTIONS.calendar_start + timedelta(days=5),
        calendar_end=OPTIONS.calendar_end + timedelta(days=5),
    )
    items, *_ = drain(harness.mailbox.changes(Stream.EVENTS, cursor, moved))
    assert [e.subject for e in items if isinstance(e, CalendarItem)] == ["Far ahead"]


def test_all_day_items_keep_their_days_in_the_users_zone(harness: EwsHarness) -> None:
    item = CalendarItem(
        id="",
        subject="Offsite",
        start=datetime(2026, 12, 7, tzinfo=UTC),
        end=datetime(2026, 12, 9, tzinfo=UTC),
        all_day=True,
    )
    harness.ews.state.add_calendar_item(calendar_spec(item, "W. Europe Standard Time"))
    items, *_ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
    [offsite] = [e for e in items if isinstance(e, CalendarItem)]
    assert offsite.all_day and (offsite.start_day, offsite.end_day) == (date(2026, 12, 7), date(2026, 12, 9))


# --- emails ------------------------------------------------------------------------------------------


def test_service_messages_carry_their_item_class_and_auto_reply_header(harness: EwsHarness) -> None:
    sent = NOW - timedelta(hours=1)
    raw = raw_email(
        sender="postmaster@globex.com", to=("ann@acme.com",), subject="Undeliverable", sent_at=sent
    )
    harness.ews.state.add_message(raw, "inbox", item_class="REPORT.IPM.Note.NDR", received=sent)
    invite = raw_email(sender="bob@globex.com", to=("ann@acme.com",), subject="Invitation", sent_at=sent)
    harness.ews.state.add_message(invite, "inbox", item_class="IPM.Schedule.Meeting.Request", received=sent)
    inbox_email(harness, "Out of office", **{"Auto-Submitted": "auto-replied"})
    items, *_ = drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
    by_subject = {e.subject: e for e in items if isinstance(e, EmailItem)}
    assert by_subject["Undeliverable"].item_class == "REPORT.IPM.Note.NDR"
    assert by_subject["Invitation"].item_class == "IPM.Schedule.Meeting.Request"
    assert by_subject["Out of office"].auto_submitted == "auto-replied"
    assert by_subject["Out of office"].item_class == "IPM.Note"


def test_categories_are_added_and_removed_in_one_round_trip(harness: EwsHarness) -> None:
    first, second = inbox_email(harness, "One"), inbox_email(harness, "Two")
    harness.ews.state.set_categories(second, ["Salesforce Thread", "Red"])
    harness.ews.server.reset_counters()
    results = harness.mailbox.mark(
        [
            MarkLabel(first, "Salesforce"),
            MarkLabel(second, "Salesforce"),
            MarkLabel(second, "Salesforce Thread", remove=True),
            MarkLabel("AAMkADgone", "Salesforce"),
        ]
    )
    assert [r.ok for r in results] == [True, True, True, False] and results[3].error_code == "MAIL-NOT-FOUND"
    assert harness.labels_of(first) == {"Salesforce"} and harness.labels_of(second) == {"Red", "Salesforce"}
    assert dict(harness.ews.server.calls) == {"GetItem": 1, "UpdateItem": 1}


def test_fetching_one_email_tells_its_folder(harness: EwsHarness) -> None:
    sent = NOW - timedelta(hours=1)
    junk = harness.ews.state.add_message(
        raw_email(sender="x@spam.biz", to=("ann@acme.com",), subject="Win", sent_at=sent), "junkemail"
    )
    [email] = harness.mailbox.fetch_email(junk).items
    assert isinstance(email, EmailItem) and email.folder is Folder.JUNK


# --- tasks and contacts --------------------------------------------------------------------------------


def test_updating_a_contacts_email_keeps_its_other_addresses(harness: EwsHarness) -> None:
    drain(harness.mailbox.changes(Stream.CONTACTS, None, OPTIONS))
    contact = harness.ews.state.add_contact(
        {"given_name": "Bob", "surname": "Baker", "emails": ["bob@globex.com", "bob@home.example"]},
        "contacts/Salesforce Contacts",
    )
    [result] = harness.mailbox.apply(
        Stream.CONTACTS,
        [Update(RecordKind.CONTACT, contact, {"email": "robert@globex.com", "last_name": "Baker-Smith"})],
    )
    assert result.ok
    item = harness.ews.state.items[contact]
    assert [e.text for e in item.props["EmailAddresses"]] == ["robert@globex.com", "bob@home.example"]
    assert item.text("DisplayName") == "Bob Baker-Smith"


def test_writes_are_batched_one_call_per_hundred(harness: EwsHarness) -> None:
    drain(harness.mailbox.changes(Stream.CONTACTS, None, OPTIONS))
    harness.ews.server.reset_counters()
    creates = [
        Create(
            RecordKind.CONTACT,
            f"003{n:015d}",
            ContactItem(id="", last_name=f"Person {n}", salesforce_id=f"003{n:015d}"),
        )
        for n in range(150)
    ]
    results = harness.mailbox.apply(Stream.CONTACTS, creates)
    assert all(r.ok for r in results) and len({r.id for r in results}) == 150
    assert harness.ews.calls("CreateItem") == 2
    found = harness.mailbox.find_tagged(Stream.CONTACTS, [c.key for c in creates])
    assert found == {c.key: r.id for c, r in zip(creates, results, strict=True)}
    assert harness.ews.calls("FindItem") == 3  # 50 Salesforce Ids per restriction
