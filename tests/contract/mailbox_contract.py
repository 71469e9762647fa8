"""The contract every Mailbox adapter passes (DESIGN "Testing"), whatever service is behind it.

An adapter's test module subclasses `MailboxContract` and provides a `harness` fixture returning
a `MailboxHarness`: the adapter under test plus a back door into its emulator to act as the user
would (add an email, edit or delete an item, expire a cursor). The same tests then run against
the memory provider, the Google emulator, the EWS emulator and the Graph emulator, so the session
can treat every mailbox alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol

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
    Page,
    PostalAddress,
    Priority,
    RecordKind,
    Response,
    Stream,
    TaskItem,
    Update,
)
from rgsync.providers.base import Mailbox, MailboxReadOptions, ProviderError

NOW = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
OPTIONS = MailboxReadOptions(
    email_since=NOW - timedelta(days=6),
    calendar_start=NOW - timedelta(days=14),
    calendar_end=NOW + timedelta(days=60),
)


class MailboxHarness(Protocol):
    """An adapter under test and the user's hands on the service behind it."""

    mailbox: Mailbox

    def add_email(
        self,
        *,
        folder: Folder,
        sender: str,
        to: tuple[str, ...],
        subject: str,
        sent_at: datetime,
        message_id: str,
        thread: str = "",
        cc: tuple[str, ...] = (),
        body: str = "Hello",
    ) -> str:
        """Deliver an email into a folder; returns its mailbox id."""
        ...

    def add_event(self, item: CalendarItem) -> str:
        """The user creates a calendar item; returns its id (for recurring items, the series id)."""
        ...

    def edit(self, stream: Stream, item_id: str, **changes: object) -> None:
        """The user changes fields of an item (CalendarItem/TaskItem/ContactItem field names)."""
        ...

    def delete(self, stream: Stream, item_id: str) -> None:
        """The user deletes an item."""
        ...

    def expire(self, stream: Stream) -> None:
        """The service forgets every sync position of `stream` (history/sync token/sync state)."""
        ...

    def labels_of(self, mailbox_id: str) -> set[str]:
        """The user-visible labels/categories on an email."""
        ...

    def invitations_sent(self) -> int:
        """How many meeting invitations the service sent on rgsync's behalf."""
        ...


def drain(pages: object) -> tuple[list[object], list[str], str | None, bool, bool]:
    """All items, deleted ids, the final cursor, whether it was full and whether reset, of a listing."""
    items: list[object] = []
    deleted: list[str] = []
    cursor = None
    full = reset = False
    for page in pages:  # type: ignore[attr-defined]
        assert isinstance(page, Page)
        items += page.items
        deleted += page.deleted
        cursor = page.cursor or cursor
        full = full or page.full
        reset = reset or page.reset
    return items, deleted, cursor, full, reset


class MailboxContract:
    """Tests shared by every mailbox adapter. Subclasses provide the `harness` fixture."""

    # -- emails ---------------------------------------------------------------------------------------
    def test_first_listing_reads_inbox_and_sent_inside_the_history_window(
        self, harness: MailboxHarness
    ) -> None:
        new_in = harness.add_email(
            folder=Folder.INBOX,
            sender="bob@globex.com",
            to=("ann@acme.com",),
            subject="In",
            sent_at=NOW - timedelta(days=1),
            message_id="<in@x>",
        )
        new_out = harness.add_email(
            folder=Folder.SENT,
            sender="ann@acme.com",
            to=("bob@globex.com",),
            subject="Out",
            sent_at=NOW - timedelta(days=2),
            message_id="<out@x>",
        )
        harness.add_email(
            folder=Folder.JUNK,
            sender="bob@globex.com",
            to=("ann@acme.com",),
            subject="Spam",
            sent_at=NOW - timedelta(days=1),
            message_id="<spam@x>",
        )
        harness.add_email(
            folder=Folder.INBOX,
            sender="bob@globex.com",
            to=("ann@acme.com",),
            subject="Old",
            sent_at=NOW - timedelta(days=20),
            message_id="<old@x>",
        )
        items, _deleted, cursor, full, _reset = drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
        emails = {e.mailbox_id: e for e in items if isinstance(e, EmailItem)}
        assert set(emails) == {new_in, new_out}
        assert emails[new_in].folder is Folder.INBOX and emails[new_out].folder is Folder.SENT
        assert emails[new_in].message_id == "<in@x>"
        assert emails[new_in].sender == Address("bob@globex.com", emails[new_in].sender.name)  # type: ignore[union-attr]
        assert [a.email for a in emails[new_out].to] == ["bob@globex.com"]
        assert full and cursor

    def test_incremental_listing_returns_only_what_arrived(self, harness: MailboxHarness) -> None:
        harness.add_email(
            folder=Folder.INBOX,
            sender="bob@globex.com",
            to=("ann@acme.com",),
            subject="First",
            sent_at=NOW - timedelta(hours=3),
            message_id="<1@x>",
        )
        _, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
        second = harness.add_email(
            folder=Folder.INBOX,
            sender="carol@initech.com",
            to=("ann@acme.com",),
            subject="Second",
            sent_at=NOW - timedelta(hours=1),
            message_id="<2@x>",
        )
        items, _, cursor2, full, _ = drain(harness.mailbox.changes(Stream.EMAILS, cursor, OPTIONS))
        assert [e.mailbox_id for e in items if isinstance(e, EmailItem)] == [second]
        assert not full and cursor2
        items, _, _, _, _ = drain(harness.mailbox.changes(Stream.EMAILS, cursor2, OPTIONS))
        assert [e for e in items if isinstance(e, EmailItem)] == []

    def test_expired_email_cursor_falls_back_to_a_full_listing(self, harness: MailboxHarness) -> None:
        first = harness.add_email(
            folder=Folder.INBOX,
            sender="bob@globex.com",
            to=("ann@acme.com",),
            subject="One",
            sent_at=NOW - timedelta(hours=3),
            message_id="<e1@x>",
        )
        _, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
        harness.expire(Stream.EMAILS)
        items, _, cursor2, full, reset = drain(harness.mailbox.changes(Stream.EMAILS, cursor, OPTIONS))
        assert full and reset and cursor2
        assert first in {e.mailbox_id for e in items if isinstance(e, EmailItem)}

    def test_labels_are_added_to_saved_emails(self, harness: MailboxHarness) -> None:
        mid = harness.add_email(
            folder=Folder.INBOX,
            sender="bob@globex.com",
            to=("ann@acme.com",),
            subject="Label me",
            sent_at=NOW - timedelta(hours=1),
            message_id="<l@x>",
        )
        results = harness.mailbox.mark([MarkLabel(mid, "Salesforce")])
        assert [r.ok for r in results] == [True]
        assert "Salesforce" in harness.labels_of(mid)

    def test_fetch_one_email_by_id(self, harness: MailboxHarness) -> None:
        mid = harness.add_email(
            folder=Folder.INBOX,
            sender="bob@globex.com",
            to=("ann@acme.com",),
            subject="Fetch",
            sent_at=NOW - timedelta(hours=1),
            message_id="<f@x>",
        )
        page = harness.mailbox.fetch_email(mid)
        [email] = page.items
        assert isinstance(email, EmailItem) and email.subject == "Fetch"

    def test_fetching_an_unknown_id_is_mail_not_found(self, harness: MailboxHarness) -> None:
        """`rgsync save` turns this one error into a usage error naming where ids are (SPEC §8)."""
        with pytest.raises(ProviderError) as raised:
            harness.mailbox.fetch_email("AAMkAGNoSuchEmail0000")
        assert raised.value.code == "MAIL-NOT-FOUND"

    # -- calendar ---------------------------------------------------------------------------------------
    def test_calendar_lists_meetings_in_the_window_with_attendees(self, harness: MailboxHarness) -> None:
        start = NOW + timedelta(days=1)
        meeting = CalendarItem(
            id="",
            subject="Demo",
            start=start,
            end=start + timedelta(hours=1),
            organizer=Address("ann@acme.com"),
            attendees=(Attendee(Address("bob@globex.com"), Response.ACCEPTED),),
            my_response=Response.ORGANIZER,
            location="Room 1",
        )
        harness.add_event(meeting)
        far = NOW + timedelta(days=90)
        harness.add_event(CalendarItem(id="", subject="Far away", start=far, end=far + timedelta(hours=1)))
        items, _, cursor, full, _ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
        events = [e for e in items if isinstance(e, CalendarItem)]
        assert [e.subject for e in events] == ["Demo"]
        [demo] = events
        assert demo.start == start and demo.end == start + timedelta(hours=1)
        assert demo.location == "Room 1"
        assert [
            (a.address.email, a.response) for a in demo.attendees if a.address.email != "ann@acme.com"
        ] == [("bob@globex.com", Response.ACCEPTED)]
        assert full and cursor

    def test_down_synced_event_is_tagged_sends_no_invitation_and_can_be_updated_and_deleted(
        self, harness: MailboxHarness
    ) -> None:
        _, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
        start = NOW + timedelta(days=2)
        record = CalendarItem(
            id="",
            subject="From Salesforce",
            start=start,
            end=start + timedelta(minutes=30),
            attendees=(Attendee(Address("bob@globex.com")),),
            salesforce_id="00U000000000001AAA",
            description="Agenda",
        )
        [created] = harness.mailbox.apply(
            Stream.EVENTS, [Create(RecordKind.EVENT, record.salesforce_id or "", record)]
        )
        assert created.ok and created.id
        assert harness.invitations_sent() == 0
        assert harness.mailbox.find_tagged(Stream.EVENTS, ["00U000000000001AAA"]) == {
            "00U000000000001AAA": created.id
        }
        items, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
        [echo] = [e for e in items if isinstance(e, CalendarItem)]
        assert echo.id == created.id and echo.salesforce_id == "00U000000000001AAA"
        [updated] = harness.mailbox.apply(
            Stream.EVENTS, [Update(RecordKind.EVENT, created.id, {"subject": "Renamed"})]
        )
        assert updated.ok
        items, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
        assert [e.subject for e in items if isinstance(e, CalendarItem)] == ["Renamed"]
        assert harness.invitations_sent() == 0
        [deleted] = harness.mailbox.apply(Stream.EVENTS, [Delete(RecordKind.EVENT, created.id)])
        assert deleted.ok
        items, gone, _, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
        assert created.id in gone or any(
            isinstance(e, CalendarItem) and e.id == created.id and e.cancelled for e in items
        )

    def test_user_deletion_of_an_event_shows_as_deleted(self, harness: MailboxHarness) -> None:
        start = NOW + timedelta(days=3)
        event_id = harness.add_event(
            CalendarItem(id="", subject="Cancel me", start=start, end=start + timedelta(hours=1))
        )
        _, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, None, OPTIONS))
        harness.delete(Stream.EVENTS, event_id)
        items, gone, _, _, _ = drain(harness.mailbox.changes(Stream.EVENTS, cursor, OPTIONS))
        assert event_id in gone or any(
            isinstance(e, CalendarItem) and e.id == event_id and e.cancelled for e in items
        )

    # -- tasks -------------------------------------------------------------------------------------------
    def test_tasks_round_trip_with_date_only_due(self, harness: MailboxHarness) -> None:
        _, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.TASKS, None, OPTIONS))
        record = TaskItem(
            id="",
            subject="Send proposal",
            due=date(2026, 12, 1),
            priority=Priority.HIGH,
            notes="n",
            salesforce_id="00T000000000001AAA",
        )
        [created] = harness.mailbox.apply(
            Stream.TASKS, [Create(RecordKind.TASK, "00T000000000001AAA", record)]
        )
        assert created.ok and created.id
        items, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.TASKS, cursor, OPTIONS))
        [task] = [t for t in items if isinstance(t, TaskItem)]
        assert task.subject == "Send proposal" and task.due == date(2026, 12, 1)
        assert task.salesforce_id == "00T000000000001AAA" and not task.completed
        harness.edit(Stream.TASKS, created.id, completed=True)
        items, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.TASKS, cursor, OPTIONS))
        assert [t.completed for t in items if isinstance(t, TaskItem)] == [True]
        harness.delete(Stream.TASKS, created.id)
        items, gone, _, _, _ = drain(harness.mailbox.changes(Stream.TASKS, cursor, OPTIONS))
        assert created.id in gone

    # -- contacts ----------------------------------------------------------------------------------------
    def test_contacts_round_trip(self, harness: MailboxHarness) -> None:
        _, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.CONTACTS, None, OPTIONS))
        record = ContactItem(
            id="",
            first_name="Bob",
            last_name="Baker",
            email="bob@globex.com",
            mobile_phone="+1 555 0100",
            title="CTO",
            company="Globex",
            mailing=PostalAddress(street="1 Main St", city="Springfield", country="US"),
            salesforce_id="003000000000001AAA",
        )
        [created] = harness.mailbox.apply(
            Stream.CONTACTS, [Create(RecordKind.CONTACT, "003000000000001AAA", record)]
        )
        assert created.ok and created.id
        items, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.CONTACTS, cursor, OPTIONS))
        [contact] = [c for c in items if isinstance(c, ContactItem)]
        assert (contact.first_name, contact.last_name, contact.email) == ("Bob", "Baker", "bob@globex.com")
        assert (
            contact.mobile_phone == "+1 555 0100" and contact.company == "Globex" and contact.title == "CTO"
        )
        assert contact.mailing.city == "Springfield"
        assert contact.salesforce_id == "003000000000001AAA"
        [updated] = harness.mailbox.apply(
            Stream.CONTACTS, [Update(RecordKind.CONTACT, created.id, {"mobile_phone": "+1 555 0199"})]
        )
        assert updated.ok
        items, _, cursor, _, _ = drain(harness.mailbox.changes(Stream.CONTACTS, cursor, OPTIONS))
        assert [c.mobile_phone for c in items if isinstance(c, ContactItem)] == ["+1 555 0199"]
        harness.delete(Stream.CONTACTS, created.id)
        _, gone, _, _, _ = drain(harness.mailbox.changes(Stream.CONTACTS, cursor, OPTIONS))
        assert created.id in gone

    def test_api_calls_are_counted(self, harness: MailboxHarness) -> None:
        before = harness.mailbox.api_calls
        drain(harness.mailbox.changes(Stream.EMAILS, None, OPTIONS))
        assert harness.mailbox.api_calls > before
