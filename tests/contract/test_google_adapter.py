"""The Google adapter's own promises, against the loopback emulator with the real client library:
API efficiency (SPEC §10), expired cursors (SPEC §7.6), retries of batch parts (SPEC §7.3),
idempotent down-sync creates (SPEC §7.1), robust parsing (SPEC §7.8), labels (SPEC §3.6) and
sign-in errors (SPEC §9)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from rgsync.credentials import CredentialStore
from rgsync.model import (
    Address,
    Attendee,
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    EmailItem,
    MailboxConnection,
    MarkLabel,
    Priority,
    RecordKind,
    Stream,
    TaskItem,
    Update,
)
from rgsync.paths import resolve_paths
from rgsync.providers.base import AuthError, RetriableError, UncertainWrite
from rgsync.providers.google import GmailConnection, open_gmail
from rgsync.providers.google import gmail as gmail_module
from rgsync.providers.google.api import GoogleApi
from rgsync.providers.google.auth import ACCESS_TOKEN
from rgsync.providers.google.calendar import event_id_for
from rgsync.providers.google.mailbox import GoogleMailbox
from rgsync.sandbox.google import RunningGoogle, start_google
from rgsync.sandbox.google.common import error_response
from rgsync.sandbox.http import Fault
from rgsync.session.retry import Retrier, RetryPolicy
from tests.contract.mailbox_contract import NOW, OPTIONS, drain
from tests.contract.test_google_mailbox import google_mailbox, rfc822

SF_EVENT = "00U000000000001AAA"


@pytest.fixture
def google() -> Iterator[RunningGoogle]:
    running = start_google()
    try:
        yield running
    finally:
        running.stop()


class Sleeps:
    """A retry policy's sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def email(
    google: RunningGoogle, n: int, *, labels: tuple[str, ...] = ("INBOX",), hours_ago: float = 1
) -> str:
    raw = rfc822(
        sender=f"sender{n}@globex.com",
        to=("ann@acme.com",),
        subject=f"Message {n}",
        sent_at=NOW - timedelta(hours=hours_ago),
        message_id=f"<m{n}@globex.com>",
    )
    return google.state.add_message(raw, labels=list(labels))


def salesforce_event(salesforce_id: str = SF_EVENT, subject: str = "From Salesforce") -> CalendarItem:
    start = NOW + timedelta(days=2)
    return CalendarItem(
        id="",
        subject=subject,
        start=start,
        end=start + timedelta(hours=1),
        attendees=(Attendee(Address("bob@globex.com")),),
        salesforce_id=salesforce_id,
    )


def first_listings(mailbox: GoogleMailbox) -> dict[Stream, str]:
    cursors = {}
    for stream in Stream:
        _items, _gone, cursor, full, _reset = drain(mailbox.changes(stream, None, OPTIONS))
        assert full and cursor
        cursors[stream] = cursor
    return cursors


# -- SPEC §10: an idle session costs one call per stream --------------------------------------------


def test_idle_second_listing_costs_exactly_one_call_per_stream(google: RunningGoogle) -> None:
    for n in range(3):
        email(google, n)
    mailbox = google_mailbox(google)
    start = NOW + timedelta(days=1)
    google.state.add_event(
        {
            "summary": "Demo",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
        }
    )
    mailbox.apply(
        Stream.TASKS, [Create(RecordKind.TASK, "00T1", TaskItem(id="", subject="Call", salesforce_id="00T1"))]
    )
    mailbox.apply(
        Stream.CONTACTS,
        [Create(RecordKind.CONTACT, "0031", ContactItem(id="", last_name="Baker", salesforce_id="0031"))],
    )
    cursors = first_listings(mailbox)
    # Drain what our own writes and the first listing left behind, then measure an idle round.
    for stream in Stream:
        cursors[stream] = drain(mailbox.changes(stream, cursors[stream], OPTIONS))[2] or cursors[stream]
    google.server.reset_counters()
    before = mailbox.api_calls
    for stream in Stream:
        items, gone, cursor, full, _ = drain(mailbox.changes(stream, cursors[stream], OPTIONS))
        assert (items, gone, full) == ([], [], False), stream
        assert cursor
    assert mailbox.api_calls - before == 4
    assert dict(google.server.calls) == {
        "gmail.history.list": 1,
        "calendar.events.list": 1,
        "tasks.tasks.list": 1,
        "people.connections.list": 1,
    }


def test_first_email_listing_fetches_bodies_in_batches_of_at_most_50(google: RunningGoogle) -> None:
    ids = [email(google, n, labels=("INBOX",) if n % 2 else ("SENT",)) for n in range(60)]
    mailbox = google_mailbox(google)
    items, _, cursor, full, _ = drain(mailbox.changes(Stream.EMAILS, None, OPTIONS))
    assert sorted(e.mailbox_id for e in items if isinstance(e, EmailItem)) == sorted(ids)
    assert full and cursor
    # getProfile + one list per label + two batches (50 + 10 parts).
    assert google.server.calls["batch"] == 2
    assert google.server.calls["gmail.messages.get"] == 60
    assert mailbox.api_calls == 1 + 2 + 2


# -- SPEC §7.6: expired cursors ------------------------------------------------------------------------


def test_expired_history_gives_a_full_listing_without_duplicates(google: RunningGoogle) -> None:
    ids = [email(google, n) for n in range(3)]
    mailbox = google_mailbox(google)
    _, _, cursor, _, _ = drain(mailbox.changes(Stream.EMAILS, None, OPTIONS))
    later = email(google, 9)
    google.state.expire_history()
    items, _, cursor2, full, reset = drain(mailbox.changes(Stream.EMAILS, cursor, OPTIONS))
    listed = [e.mailbox_id for e in items if isinstance(e, EmailItem)]
    assert full and reset and cursor2 and cursor2 != cursor
    assert sorted(listed) == sorted([*ids, later]) and len(listed) == len(set(listed))
    assert google.server.calls["gmail.history.list"] == 1  # the 404, then the full listing
    # The new cursor works: the next read is incremental again.
    assert not drain(mailbox.changes(Stream.EMAILS, cursor2, OPTIONS))[3]


def test_expired_calendar_sync_token_gives_a_full_listing_without_duplicates(google: RunningGoogle) -> None:
    mailbox = google_mailbox(google)
    for n in range(3):
        start = NOW + timedelta(days=n + 1)
        google.state.add_event(
            {
                "summary": f"M{n}",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
            }
        )
    _, _, cursor, _, _ = drain(mailbox.changes(Stream.EVENTS, None, OPTIONS))
    google.state.expire_sync_tokens()
    items, gone, cursor2, full, reset = drain(mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
    assert full and reset and cursor2 and not gone
    assert sorted(e.subject for e in items if isinstance(e, CalendarItem)) == ["M0", "M1", "M2"]


def test_expired_people_sync_token_gives_a_full_listing_of_the_group_only(google: RunningGoogle) -> None:
    mailbox = google_mailbox(google)
    google.state.add_contact({"names": [{"givenName": "Someone", "familyName": "Else"}]})
    created = mailbox.apply(
        Stream.CONTACTS,
        [
            Create(
                RecordKind.CONTACT,
                "0031",
                ContactItem(id="", first_name="Bob", last_name="Baker", salesforce_id="0031"),
            )
        ],
    )
    _, _, cursor, _, _ = drain(mailbox.changes(Stream.CONTACTS, None, OPTIONS))
    google.state.expire_people_sync_tokens()
    items, _, cursor2, full, reset = drain(mailbox.changes(Stream.CONTACTS, cursor, OPTIONS))
    assert full and reset and cursor2
    assert [(c.id, c.last_name, c.salesforce_id) for c in items if isinstance(c, ContactItem)] == [
        (created[0].id, "Baker", "0031")
    ]


# -- SPEC §7.3: retries -------------------------------------------------------------------------------


def test_spec_7_3_a_batch_part_refused_with_429_fails_the_read_once_and_the_session_repeats_it(
    google: RunningGoogle,
) -> None:
    ids = [email(google, n) for n in range(3)]
    google.inject_rate_limit(match=f"GET /gmail/v1/users/me/messages/{ids[1]}$", times=1, retry_after=4)
    sleeps = Sleeps()
    retrier = Retrier(RetryPolicy(sleep=sleeps, clock=lambda: sum(sleeps.waits)))
    mailbox = google_mailbox(google)
    items, _, _, _, _ = retrier.call(lambda: drain(mailbox.changes(Stream.EMAILS, None, OPTIONS)))
    assert sorted(e.mailbox_id for e in items if isinstance(e, EmailItem)) == sorted(ids)
    assert google.server.calls["batch"] == 2  # the adapter never repeats a part itself
    assert sleeps.waits == [4.0]  # Google's Retry-After, honoured by the session's one policy


def test_spec_7_3_a_batch_with_a_failing_part_is_sent_once_and_raises_retriable(
    google: RunningGoogle,
) -> None:
    ids = [email(google, n) for n in range(2)]
    google.inject_5xx(match=f"GET /gmail/v1/users/me/messages/{ids[0]}$", times=10)
    mailbox = google_mailbox(google)
    with pytest.raises(RetriableError):
        drain(mailbox.changes(Stream.EMAILS, None, OPTIONS))
    assert google.server.calls["batch"] == 1 and google.server.calls["gmail.messages.get"] == 2


def test_a_rate_limited_call_is_a_retriable_error_for_the_session(google: RunningGoogle) -> None:
    mailbox = google_mailbox(google)
    _, _, cursor, _, _ = drain(mailbox.changes(Stream.EMAILS, None, OPTIONS))
    google.inject_rate_limit(match="history", status=403, reason="userRateLimitExceeded")
    with pytest.raises(RetriableError):
        drain(mailbox.changes(Stream.EMAILS, cursor, OPTIONS))
    assert drain(mailbox.changes(Stream.EMAILS, cursor, OPTIONS))[2]  # the retry goes through


# -- SPEC §7.1, §4.3: down-synced events --------------------------------------------------------------


def test_a_repeated_insert_adopts_the_event_instead_of_duplicating_it(google: RunningGoogle) -> None:
    record = salesforce_event()
    write = Create(RecordKind.EVENT, SF_EVENT, record)
    [first] = google_mailbox(google).apply(Stream.EVENTS, [write])
    # A rerun after a crash: a new adapter, nothing remembered, the same create again.
    [again] = google_mailbox(google).apply(Stream.EVENTS, [write])
    assert first.ok and again.ok and first.id == again.id == event_id_for(SF_EVENT)
    tagged = [e for e in google.state.calendar.events.values() if e.resource.get("status") != "cancelled"]
    assert len(tagged) == 1
    assert all(choice == "none" for _m, _id, choice in google.state.calendar.send_updates_log)


def test_a_down_synced_event_deleted_by_the_user_can_be_created_again(google: RunningGoogle) -> None:
    mailbox = google_mailbox(google)
    [created] = mailbox.apply(Stream.EVENTS, [Create(RecordKind.EVENT, SF_EVENT, salesforce_event())])
    google.state.calendar.delete_event(created.id or "")
    [again] = google_mailbox(google).apply(
        Stream.EVENTS, [Create(RecordKind.EVENT, SF_EVENT, salesforce_event())]
    )
    assert again.ok and again.id == created.id
    assert google.state.calendar.get(created.id or "")["status"] == "confirmed"
    assert mailbox.find_tagged(Stream.EVENTS, [SF_EVENT]) == {SF_EVENT: created.id}


def test_event_fields_round_trip_and_updates_keep_the_rest(google: RunningGoogle) -> None:
    mailbox = google_mailbox(google)
    _, _, cursor, _, _ = drain(mailbox.changes(Stream.EVENTS, None, OPTIONS))
    day = NOW.date() + timedelta(days=3)
    all_day = CalendarItem(
        id="",
        subject="Offsite",
        start=datetime(day.year, day.month, day.day, tzinfo=UTC),
        end=datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=2),
        all_day=True,
        private=True,
        salesforce_id="00U000000000002AAA",
    )
    [created] = mailbox.apply(Stream.EVENTS, [Create(RecordKind.EVENT, "00U000000000002AAA", all_day)])
    [moved] = mailbox.apply(
        Stream.EVENTS,
        [Update(RecordKind.EVENT, created.id or "", {"start": all_day.start + timedelta(days=1)})],
    )
    assert moved.ok
    items, _, _, _, _ = drain(mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
    [event] = [e for e in items if isinstance(e, CalendarItem)]
    assert event.all_day and event.private and event.subject == "Offsite"
    assert (event.start_day, event.end_day) == (day + timedelta(days=1), day + timedelta(days=2))


def test_meeting_answers_and_organizer_are_read(google: RunningGoogle) -> None:
    start = NOW + timedelta(days=1)
    google.state.add_event(
        {
            "summary": "Their meeting",
            "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": "Europe/Berlin"},
            "organizer": {"email": "bob@globex.com"},
            "attendees": [
                {"email": "bob@globex.com", "organizer": True, "responseStatus": "accepted"},
                {"email": google.address, "self": True, "responseStatus": "tentative"},
                {
                    "email": "room@resource.calendar.google.com",
                    "resource": True,
                    "responseStatus": "accepted",
                },
            ],
            "transparency": "transparent",
        }
    )
    items, _, _, _, _ = drain(google_mailbox(google).changes(Stream.EVENTS, None, OPTIONS))
    [meeting] = items
    assert isinstance(meeting, CalendarItem)
    assert meeting.organizer == Address("bob@globex.com", meeting.organizer.name if meeting.organizer else "")
    assert meeting.my_response.value == "tentative"
    assert [a.address.email for a in meeting.attendees] == ["bob@globex.com", google.address]
    assert meeting.show_as.value == "Free" and meeting.start == start


# -- SPEC §3.6: labels ---------------------------------------------------------------------------------


def test_labels_are_created_once_and_applied_in_batches(
    google: RunningGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gmail_module, "MODIFY_LIMIT", 2)
    ids = [email(google, n) for n in range(5)]
    mailbox = google_mailbox(google)
    results = mailbox.mark(
        [MarkLabel(i, "Salesforce") for i in ids] + [MarkLabel(ids[0], "Salesforce Sync Error")]
    )
    assert all(r.ok for r in results) and len(results) == 6
    assert google.server.calls["gmail.labels.list"] == 1
    assert google.server.calls["gmail.labels.create"] == 2
    assert google.server.calls["gmail.messages.batchModify"] == 3 + 1  # 2 + 2 + 1 ids, then 1
    mailbox.mark([MarkLabel(ids[1], "salesforce")])  # known now, whatever the case
    assert google.server.calls["gmail.labels.create"] == 2 and google.server.calls["gmail.labels.list"] == 1
    names = {str(label["name"]) for label in google.state.gmail.user_labels.values()}
    assert names == {"Salesforce", "Salesforce Sync Error"}


def test_a_label_added_by_the_user_brings_the_email_back_as_a_manual_save(google: RunningGoogle) -> None:
    old = email(google, 1, hours_ago=2)
    mailbox = google_mailbox(google)
    _, _, cursor, _, _ = drain(mailbox.changes(Stream.EMAILS, None, OPTIONS))
    google.state.gmail.modify_labels(old, add=["Salesforce"])
    google.state.gmail.modify_labels(old, add=["STARRED"])
    items, _, _, _, _ = drain(mailbox.changes(Stream.EMAILS, cursor, OPTIONS))
    [again] = items
    assert isinstance(again, EmailItem) and "Salesforce" in again.labels


def test_emails_moved_to_spam_or_drafts_are_not_listed(google: RunningGoogle) -> None:
    email(google, 1, labels=("SPAM",))
    email(google, 2, labels=("DRAFT",))
    kept = email(google, 3, labels=("INBOX", "SENT"))
    items, _, _, _, _ = drain(google_mailbox(google).changes(Stream.EMAILS, None, OPTIONS))
    assert [(e.mailbox_id, e.folder.value) for e in items if isinstance(e, EmailItem)] == [(kept, "sent")]


# -- SPEC §7.8: robust parsing --------------------------------------------------------------------------

BROKEN = (
    b"From: =?x-unknown-charset?q?Bob?= <bob@globex.com>, not an address, @@\r\n"
    b"To: =?utf-8?b?w4Fubg==?= <ANN@acme.com>, <broken\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9_?= =?iso-8859-1?q?d=E9j=E0?= vu\r\n"
    b"Content-Type: text/plain; charset=x-nonsense\r\n"
    b"\r\n"
    b"Caf\xe9 au lait\r\n"
)


def test_a_message_with_broken_headers_is_cleaned_and_the_listing_goes_on(google: RunningGoogle) -> None:
    broken = google.state.add_message(BROKEN, labels=["INBOX"], internal_date=NOW - timedelta(hours=2))
    fine = email(google, 1)
    items, _, _, _, _ = drain(google_mailbox(google).changes(Stream.EMAILS, None, OPTIONS))
    by_id = {e.mailbox_id: e for e in items if isinstance(e, EmailItem)}
    assert set(by_id) == {broken, fine}
    item = by_id[broken]
    assert item.sender is not None and item.sender.email == "bob@globex.com"
    assert [a.email for a in item.to] == ["ann@acme.com"]
    assert item.subject == "Café déjà vu"
    assert item.sent_at == NOW - timedelta(hours=2)  # no Date header: Gmail's internal date
    assert "Caf" in item.text_body and not item.unreadable
    assert any("Message-ID" in p for p in item.problems)
    assert any("Date" in p for p in item.problems)
    assert any("charset" in p for p in item.problems)
    assert any("dropped" in p for p in item.problems)


# -- SPEC §5: tasks ---------------------------------------------------------------------------------------


def test_tasks_keep_priority_and_origin_in_a_trailer_the_user_does_not_see_in_rgsync(
    google: RunningGoogle,
) -> None:
    mailbox = google_mailbox(google)
    _, _, cursor, _, _ = drain(mailbox.changes(Stream.TASKS, None, OPTIONS))
    record = TaskItem(
        id="",
        subject="Send proposal",
        due=date(2026, 12, 1),
        priority=Priority.HIGH,
        notes="Call first",
        salesforce_id="00T1",
    )
    [created] = mailbox.apply(Stream.TASKS, [Create(RecordKind.TASK, "00T1", record)])
    [changed] = mailbox.apply(
        Stream.TASKS,
        [Update(RecordKind.TASK, created.id or "", {"notes": "Call Bob first", "completed": True})],
    )
    assert changed.ok
    items, _, cursor, _, _ = drain(mailbox.changes(Stream.TASKS, cursor, OPTIONS))
    [task] = items
    assert isinstance(task, TaskItem)
    assert (task.notes, task.priority, task.salesforce_id, task.completed) == (
        "Call Bob first",
        Priority.HIGH,
        "00T1",
        True,
    )
    stored = google.state.tasks.get_task("Salesforce Tasks", created.id or "")
    assert stored["notes"].endswith("[salesforce:00T1 priority:High]")
    assert mailbox.find_tagged(Stream.TASKS, ["00T1", "00T2"]) == {"00T1": created.id}
    [reopened] = mailbox.apply(
        Stream.TASKS, [Update(RecordKind.TASK, created.id or "", {"completed": False})]
    )
    assert reopened.ok
    items, _, _, _, _ = drain(mailbox.changes(Stream.TASKS, cursor, OPTIONS))
    assert [t.completed for t in items if isinstance(t, TaskItem)] == [False]


def test_spec_5_a_task_changed_twice_within_one_millisecond_is_read_both_times() -> None:
    """SPEC §5 and §7: `updated` counts milliseconds and `updatedMin` is inclusive. With the
    service's clock standing still, a user's second edit keeps the stamp the cursor's mark holds;
    the edit is still read (its etag moved), and an unchanged task at the mark is not read again."""
    frozen = datetime(2026, 12, 7, 9, 30, 0, 123000, tzinfo=UTC)
    google = start_google(clock=lambda: frozen)
    try:
        mailbox = google_mailbox(google)
        _, _, cursor, _, _ = drain(mailbox.changes(Stream.TASKS, None, OPTIONS))
        task_id = google.state.tasks.add_task("Salesforce Tasks", {"title": "Call Bob"})
        items, _, cursor, _, _ = drain(mailbox.changes(Stream.TASKS, cursor, OPTIONS))
        assert [t.subject for t in items if isinstance(t, TaskItem)] == ["Call Bob"]
        items, _, cursor, _, _ = drain(mailbox.changes(Stream.TASKS, cursor, OPTIONS))
        assert items == []  # at the mark, unchanged: not reported twice
        google.state.tasks.update_task("Salesforce Tasks", task_id, {"title": "Call Bob today"})
        assert google.state.tasks.get_task("Salesforce Tasks", task_id)["updated"].startswith(
            "2026-12-07T09:30:00.123"
        )  # the same millisecond as the read before
        items, _, cursor, _, _ = drain(mailbox.changes(Stream.TASKS, cursor, OPTIONS))
        assert [t.subject for t in items if isinstance(t, TaskItem)] == ["Call Bob today"]
        items, _, _, _, _ = drain(mailbox.changes(Stream.TASKS, cursor, OPTIONS))
        assert items == []
    finally:
        google.stop()


def test_the_task_list_is_created_once(google: RunningGoogle) -> None:
    mailbox = google_mailbox(google)
    drain(mailbox.changes(Stream.TASKS, None, OPTIONS))
    drain(google_mailbox(google).changes(Stream.TASKS, None, OPTIONS))
    titles = [str(entry["title"]) for entry in google.state.tasks.lists.values()]
    assert titles.count("Salesforce Tasks") == 1
    assert google.server.calls["tasks.tasklists.insert"] == 1


def test_a_task_create_repeated_by_the_session_is_not_sent_twice(google: RunningGoogle) -> None:
    mailbox = google_mailbox(google)
    drain(mailbox.changes(Stream.TASKS, None, OPTIONS))
    writes = [
        Create(RecordKind.TASK, "00T1", TaskItem(id="", subject="One", salesforce_id="00T1")),
        Create(RecordKind.TASK, "00T2", TaskItem(id="", subject="Two", salesforce_id="00T2")),
    ]
    # The first create goes through, the second meets a 503: its outcome is unknown to the adapter,
    # which says so (UncertainWrite) instead of sending it again; the session retries the apply.
    unavailable = error_response(503, "backendError", "The service is currently unavailable.")
    google.server.faults.add(Fault(match="POST /tasks/v1/lists/.*/tasks", nth=2, response=unavailable))
    with pytest.raises(UncertainWrite):
        mailbox.apply(Stream.TASKS, writes)
    results = mailbox.apply(Stream.TASKS, writes)
    assert all(r.ok for r in results)
    titles = sorted(str(t["title"]) for t in google.state.tasks.tasks[mailbox.tasks.list_id()].values())
    assert titles == ["One", "Two"]
    assert google.server.calls["tasks.tasks.insert"] == 3


# -- SPEC §6: contacts ---------------------------------------------------------------------------------------


def test_contact_updates_keep_what_rgsync_does_not_manage_and_deletes_tolerate_gone_ones(
    google: RunningGoogle,
) -> None:
    mailbox = google_mailbox(google)
    records = [
        ContactItem(
            id="",
            first_name="Bob",
            last_name="Baker",
            email="bob@globex.com",
            phone="+1 555 0100",
            salesforce_id="0031",
        ),
        ContactItem(id="", first_name="Carol", last_name="Cole", salesforce_id="0032"),
    ]
    created = mailbox.apply(
        Stream.CONTACTS, [Create(RecordKind.CONTACT, r.salesforce_id or "", r) for r in records]
    )
    bob, carol = (r.id or "" for r in created)
    person = google.state.people.get_contact(bob)
    google.state.people.update_contact(
        bob, {"phoneNumbers": [*person["phoneNumbers"], {"value": "+1 555 0111", "type": "home"}]}
    )
    results = mailbox.apply(
        Stream.CONTACTS,
        [
            Update(RecordKind.CONTACT, bob, {"phone": "+1 555 0199", "title": "CTO"}),
            Update(RecordKind.CONTACT, carol, {"first_name": "Caroline"}),
        ],
    )
    assert [r.ok for r in results] == [True, True]
    assert (
        google.server.calls["people.batchUpdateContacts"] == 1
        and google.server.calls["people.getBatchGet"] == 1
    )
    phones = {p.get("type"): p["value"] for p in google.state.people.get_contact(bob)["phoneNumbers"]}
    assert phones == {"work": "+1 555 0199", "home": "+1 555 0111"}
    assert google.state.people.get_contact(carol)["names"][0]["givenName"] == "Caroline"
    google.state.people.delete_contact(carol)
    gone = mailbox.apply(
        Stream.CONTACTS, [Delete(RecordKind.CONTACT, bob), Delete(RecordKind.CONTACT, carol)]
    )
    assert [r.ok for r in gone] == [True, True]


# -- SPEC §9: sign-in ------------------------------------------------------------------------------------------


def test_a_refused_token_is_a_mail_auth_error_naming_the_command(google: RunningGoogle) -> None:
    api = GoogleApi(lambda: Credentials(token="revoked"), endpoint=google.url)
    mailbox = GoogleMailbox(api, address=google.address)
    with pytest.raises(AuthError) as caught:
        drain(mailbox.changes(Stream.EMAILS, None, OPTIONS))
    assert caught.value.code == "MAIL-AUTH" and "rgsync connect gmail" in caught.value.advice


class _Settings:
    def __init__(self, mailbox: dict[str, object]) -> None:
        self.mailbox = MailboxConnection.from_table(mailbox)


def test_open_mailbox_signs_in_with_a_stored_access_token(
    google: RunningGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    paths = resolve_paths(config=str(tmp_path / "settings.toml"))
    settings = _Settings({"address": google.address, "gmail-api-url": google.url})
    mailbox = open_gmail(
        GmailConnection.from_table(settings.mailbox.table()),
        CredentialStore(paths.profile, paths.credentials_file),
    )
    with pytest.raises(AuthError):  # nothing stored yet: not connected
        drain(mailbox.changes(Stream.EMAILS, None, OPTIONS))
    CredentialStore(paths.profile, paths.credentials_file).set(ACCESS_TOKEN, google.token)
    mailbox = open_gmail(
        GmailConnection.from_table(settings.mailbox.table()),
        CredentialStore(paths.profile, paths.credentials_file),
    )
    assert drain(mailbox.changes(Stream.EMAILS, None, OPTIONS))[2]
    mailbox.close()
    assert ACCESS_TOKEN in json.loads(paths.credentials_file.read_text())["secrets"]


def test_contacts_whose_group_membership_failed_are_found_and_put_in_the_group_not_created_again(
    google: RunningGoogle,
) -> None:
    mailbox = google_mailbox(google)
    drain(mailbox.changes(Stream.CONTACTS, None, OPTIONS))
    writes = [Create(RecordKind.CONTACT, "0031", ContactItem(id="", last_name="Baker", salesforce_id="0031"))]
    google.inject_5xx(match="members:modify", times=1)
    with pytest.raises(UncertainWrite):  # created, but did the rest go through? Only Google knows
        mailbox.apply(Stream.CONTACTS, writes)
    [result] = mailbox.apply(Stream.CONTACTS, writes)  # the session's retry
    assert result.ok
    live = [p for p in google.state.people.people.values() if not p.deleted]
    assert len(live) == 1 and result.id == live[0].resource["resourceName"]
    items, _, _, _, _ = drain(mailbox.changes(Stream.CONTACTS, None, OPTIONS))
    assert [c.id for c in items if isinstance(c, ContactItem)] == [result.id]
