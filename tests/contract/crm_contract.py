"""The contract every Crm adapter passes (DESIGN "Testing"), whatever org is behind it.

An adapter's test module subclasses `CrmContract` and provides a `harness` fixture returning a
`CrmHarness`: the adapter under test plus a back door into its org to act as a Salesforce user
would (add records, edit or delete them, make the org forget a sync position). The same tests run
against `MemoryCrm` and against the Salesforce adapter on the emulator, so the session and the
planner tests, which use the memory provider, stand on the behaviour of the real adapter.

`harness.gaps` names behaviours an implementation is known not to have yet; the test concerned is
marked as an expected failure for it, so the gap stays visible instead of silently passing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import pytest

from rgsync.model import (
    Address,
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    EmailActivity,
    EmailItem,
    EmailMode,
    EventInvitee,
    EventRecord,
    Folder,
    NewPerson,
    Page,
    PersonKind,
    RecordKind,
    Stream,
    TaskItem,
    Update,
    event_key,
    meeting_key,
)
from rgsync.providers.base import Crm, CrmReadOptions

# The emulators run on the wall clock, so the contract's "now" is the real one (to the second).
NOW = datetime.now(UTC).replace(microsecond=0)


def options(user_id: str, **overrides: object) -> CrmReadOptions:
    """Read options with the default windows (14 days back, 60 ahead; tasks 14 days)."""
    values: dict[str, object] = {
        "user_id": user_id,
        "calendar_start": NOW - timedelta(days=14),
        "calendar_end": NOW + timedelta(days=60),
        "tasks_since": NOW - timedelta(days=14),
        "contacts_scope": "mine",
    }
    values.update(overrides)
    return CrmReadOptions(**values)  # type: ignore[arg-type]


class CrmHarness(Protocol):
    """An adapter under test and a Salesforce user's hands on the org behind it."""

    crm: Crm
    user_id: str
    colleague_id: str
    email_mode: EmailMode
    gaps: frozenset[str]

    def add_account(self, name: str, website: str = "") -> str: ...

    def add_contact(
        self, first: str, last: str, email: str, *, account_id: str | None = None, owner_id: str | None = None
    ) -> str: ...

    def add_lead(self, first: str, last: str, email: str, company: str = "Hooli") -> str: ...

    def add_opportunity(self, name: str, account_id: str, owner_id: str, close_date: date) -> str: ...

    def add_event(
        self, subject: str, start: datetime, end: datetime, *, owner_id: str | None = None
    ) -> str: ...

    def add_task(
        self, subject: str, due: date | None, *, completed: bool = False, owner_id: str | None = None
    ) -> str: ...

    def edit(self, stream: Stream, record_id: str, **changes: object) -> None:
        """Change a record as a user would (domain names: subject, location, completed, last_name)."""
        ...

    def delete(self, stream: Stream, record_id: str) -> None: ...

    def expire(self, stream: Stream) -> None:
        """Make the org forget how to continue from any stored cursor of `stream`."""
        ...

    def reject_subject(self, text: str) -> None:
        """From now on, Tasks and Events whose Subject contains `text` are refused (a validation rule)."""
        ...


def read_all(pages: list[Page]) -> tuple[list[object], list[str], str | None, bool, bool]:
    """Items, deleted ids, final cursor, full, reset of one stream's pages."""
    items: list[object] = []
    deleted: list[str] = []
    cursor = None
    full = reset = False
    for page in pages:
        items += page.items
        deleted += page.deleted
        cursor = page.cursor or cursor
        full = full or page.full
        reset = reset or page.reset
    return items, deleted, cursor, full, reset


def ids_of(items: list[object]) -> set[str]:
    return {str(getattr(i, "id", "")) for i in items}


def an_email(n: int, subject: str = "Proposal", sender: str = "bob@globex.com") -> EmailItem:
    return EmailItem(
        mailbox_id=f"m{n}",
        message_id=f"<msg-{n}@globex.com>",
        thread_id=f"thread-{n}",
        folder=Folder.INBOX,
        subject=subject,
        sent_at=NOW - timedelta(hours=1),
        sender=Address(sender, "Bob Stone"),
        to=(Address("ann@acme.com", "Ann Lee"),),
        text_body=f"Hello {n}",
    )


def gap(harness: CrmHarness, name: str) -> None:
    if name in harness.gaps:
        pytest.xfail(f"known gap of this implementation: {name}")


class CrmContract:
    """Tests shared by every Crm implementation. Subclasses provide the `harness` fixture."""

    # -- org ----------------------------------------------------------------------------------------
    def test_the_implementation_is_a_crm(self, harness: CrmHarness) -> None:
        assert isinstance(harness.crm, Crm)

    def test_org_info_names_the_signed_in_user(self, harness: CrmHarness) -> None:
        assert harness.crm.org_info().user_id == harness.user_id

    def test_usage_is_known_after_a_call(self, harness: CrmHarness) -> None:
        harness.crm.org_info()
        usage = harness.crm.usage()
        assert usage is not None and usage.limit > 0 and 0 < usage.used <= usage.limit
        assert harness.crm.api_calls >= 1

    # -- reading changes (SPEC §4.3, §5, §6, §7.6) ---------------------------------------------------
    def test_first_read_lists_exactly_what_is_in_scope(self, harness: CrmHarness) -> None:
        mine = harness.add_event("Demo", NOW + timedelta(days=2), NOW + timedelta(days=2, hours=1))
        harness.add_event("Far away", NOW + timedelta(days=90), NOW + timedelta(days=90, hours=1))
        harness.add_event(
            "Frank's",
            NOW + timedelta(days=1),
            NOW + timedelta(days=1, hours=1),
            owner_id=harness.colleague_id,
        )
        task = harness.add_task("Call Bob", NOW.date() + timedelta(days=1))
        harness.add_task("Frank's task", NOW.date(), owner_id=harness.colleague_id)
        contact = harness.add_contact("Bob", "Stone", "bob@globex.com")
        harness.add_contact("Carol", "Reed", "carol@initech.com", owner_id=harness.colleague_id)

        pages = harness.crm.changes({}, options(harness.user_id))

        events, _, event_cursor, full, reset = read_all(pages[Stream.EVENTS])
        assert ids_of(events) == {mine} and full and not reset and event_cursor
        tasks, _, task_cursor, full, _ = read_all(pages[Stream.TASKS])
        assert ids_of(tasks) == {task} and full and task_cursor
        contacts, _, contact_cursor, full, _ = read_all(pages[Stream.CONTACTS])
        assert ids_of(contacts) == {contact} and full and contact_cursor
        event = next(e for e in events if isinstance(e, CalendarItem))
        assert event.subject == "Demo" and event.owner_id == harness.user_id

    def test_only_requested_streams_are_read(self, harness: CrmHarness) -> None:
        harness.add_task("Call Bob", NOW.date())
        pages = harness.crm.changes({}, options(harness.user_id, streams=frozenset({Stream.TASKS})))
        assert set(pages) == {Stream.TASKS}

    def test_a_later_read_returns_what_changed_and_an_idle_read_nothing(self, harness: CrmHarness) -> None:
        first = harness.add_task("Call Bob", NOW.date())
        second = harness.add_task("Send quote", NOW.date())
        pages = harness.crm.changes({}, options(harness.user_id))
        cursors = {s: read_all(p)[2] for s, p in pages.items()}

        harness.edit(Stream.TASKS, second, subject="Send the quote")
        pages = harness.crm.changes(cursors, options(harness.user_id))
        tasks, deleted, cursor, full, _ = read_all(pages[Stream.TASKS])
        assert [getattr(t, "subject", "") for t in tasks] == ["Send the quote"]
        assert first not in ids_of(tasks) and not deleted and not full
        cursors[Stream.TASKS] = cursor

        pages = harness.crm.changes(cursors, options(harness.user_id))
        for stream_pages in pages.values():
            items, deleted, cursor, full, _ = read_all(stream_pages)
            assert items == [] and deleted == [] and not full and cursor

    def test_records_deleted_in_salesforce_are_reported(self, harness: CrmHarness) -> None:
        task = harness.add_task("Call Bob", NOW.date())
        event = harness.add_event("Demo", NOW + timedelta(days=1), NOW + timedelta(days=1, hours=1))
        pages = harness.crm.changes({}, options(harness.user_id))
        cursors = {s: read_all(p)[2] for s, p in pages.items()}

        harness.delete(Stream.TASKS, task)
        harness.delete(Stream.EVENTS, event)
        pages = harness.crm.changes(cursors, options(harness.user_id))
        assert task in read_all(pages[Stream.TASKS])[1]
        assert event in read_all(pages[Stream.EVENTS])[1]

    def test_an_expired_cursor_gives_a_full_listing_marked_reset(self, harness: CrmHarness) -> None:
        task = harness.add_task("Call Bob", NOW.date())
        pages = harness.crm.changes({}, options(harness.user_id, streams=frozenset({Stream.TASKS})))
        cursor = read_all(pages[Stream.TASKS])[2]

        harness.expire(Stream.TASKS)
        pages = harness.crm.changes(
            {Stream.TASKS: cursor}, options(harness.user_id, streams=frozenset({Stream.TASKS}))
        )
        items, _, new_cursor, full, reset = read_all(pages[Stream.TASKS])
        assert full and reset and new_cursor
        assert ids_of(items) == {task}

    def test_contacts_scope_all_includes_colleagues_contacts(self, harness: CrmHarness) -> None:
        mine = harness.add_contact("Bob", "Stone", "bob@globex.com")
        theirs = harness.add_contact("Carol", "Reed", "carol@initech.com", owner_id=harness.colleague_id)
        pages = harness.crm.changes({}, options(harness.user_id, contacts_scope="all"))
        assert {mine, theirs} <= ids_of(read_all(pages[Stream.CONTACTS])[0])

    # -- lookups (SPEC §3.3–§3.5) ----------------------------------------------------------------------
    def test_people_are_found_by_address_whatever_its_case(self, harness: CrmHarness) -> None:
        bob = harness.add_contact("Bob", "Stone", "Bob@Globex.com")
        erin = harness.add_lead("Erin", "Ellis", "erin@hooli.com")
        found = harness.crm.find_people(["bob@globex.com", "ERIN@hooli.com", "nobody@nowhere.com"])
        assert set(found) == {"bob@globex.com", "erin@hooli.com"}
        assert [(p.id, p.kind) for p in found["bob@globex.com"]] == [(bob, PersonKind.CONTACT)]
        assert [(p.id, p.kind) for p in found["erin@hooli.com"]] == [(erin, PersonKind.LEAD)]

    def test_an_address_with_a_quote_is_looked_up_safely(self, harness: CrmHarness) -> None:
        obrien = harness.add_contact("Pat", "O'Brien", "pat.o'brien@globex.com")
        harness.add_contact("Bob", "Stone", "bob@globex.com")
        found = harness.crm.find_people(["pat.o'brien@globex.com", "x' OR Email != 'y"])
        assert set(found) == {"pat.o'brien@globex.com"}
        assert found["pat.o'brien@globex.com"][0].id == obrien

    def test_accounts_are_found_by_website_domain(self, harness: CrmHarness) -> None:
        globex = harness.add_account("Globex", "https://www.globex.com/about")
        harness.add_account("Globex Fake", "notglobex.com")
        found = harness.crm.find_accounts_by_domain(["globex.com", "initech.com"])
        assert set(found) == {"globex.com"} and found["globex.com"].id == globex

    def test_accounts_by_id_and_the_owners_opportunities(self, harness: CrmHarness) -> None:
        globex = harness.add_account("Globex", "globex.com")
        mine = harness.add_opportunity("Big deal", globex, harness.user_id, NOW.date() + timedelta(days=30))
        harness.add_opportunity("Frank's deal", globex, harness.colleague_id, NOW.date() + timedelta(days=30))
        assert harness.crm.accounts_by_id([globex])[globex].name == "Globex"
        opportunities = harness.crm.opportunities_for([globex], harness.user_id)
        assert [(o.id, o.account_id, o.owner_id) for o in opportunities] == [(mine, globex, harness.user_id)]
        assert opportunities[0].close_date == NOW.date() + timedelta(days=30)

    # -- writes and natural keys (SPEC §3.7, §4.2, §7.1, §7.7) ------------------------------------------
    def test_a_saved_email_is_found_again_by_its_message_id(self, harness: CrmHarness) -> None:
        bob = harness.add_contact("Bob", "Stone", "bob@globex.com")
        email = an_email(1)
        activity = EmailActivity(email, harness.email_mode, (bob,), None, harness.user_id)
        [result] = harness.crm.apply([Create(RecordKind.EMAIL, email.message_id, activity)])
        assert result.ok and result.id
        found = harness.crm.find_existing(RecordKind.EMAIL, [email.message_id, "<unknown@x>"])
        assert found == {email.message_id: result.id}

    def test_a_created_event_is_found_by_its_key_and_as_the_users_meeting(self, harness: CrmHarness) -> None:
        start = NOW + timedelta(days=3)
        item = CalendarItem(
            id="", subject="Kick-off", start=start, end=start + timedelta(hours=1), location="Room 1"
        )
        key = event_key(item.subject, item.start, harness.user_id)
        [result] = harness.crm.apply(
            [Create(RecordKind.EVENT, key, EventRecord(item, (), None, harness.user_id))]
        )
        assert result.ok
        assert harness.crm.find_existing(RecordKind.EVENT, [key]) == {key: result.id}
        meeting = harness.crm.find_meetings([meeting_key(item.subject, start)])[
            meeting_key(item.subject, start)
        ]
        assert (meeting.id, meeting.owner_id, meeting.editable) == (result.id, harness.user_id, True)

    def test_a_colleagues_event_is_found_but_not_editable(self, harness: CrmHarness) -> None:
        start = NOW + timedelta(days=4)
        theirs = harness.add_event("Board", start, start + timedelta(hours=1), owner_id=harness.colleague_id)
        key = meeting_key("Board", start)
        meeting = harness.crm.find_meetings([key])[key]
        assert (meeting.id, meeting.owner_id, meeting.editable) == (theirs, harness.colleague_id, False)

    def test_the_user_added_as_invitee_sees_the_colleagues_event(self, harness: CrmHarness) -> None:
        start = NOW + timedelta(days=4)
        theirs = harness.add_event("Board", start, start + timedelta(hours=1), owner_id=harness.colleague_id)
        invitee = EventInvitee(theirs, harness.user_id)
        [result] = harness.crm.apply(
            [Create(RecordKind.EVENT_INVITEE, f"invitee|{theirs}|{harness.user_id}", invitee)]
        )
        assert result.ok and result.id == theirs
        pages = harness.crm.changes({}, options(harness.user_id, streams=frozenset({Stream.EVENTS})))
        events = [e for e in read_all(pages[Stream.EVENTS])[0] if isinstance(e, CalendarItem)]
        assert [(e.id, harness.user_id in e.invitee_ids) for e in events] == [(theirs, True)]

    def test_a_created_task_is_found_by_the_task_key(self, harness: CrmHarness) -> None:
        gap(harness, "task-key")
        from rgsync.engine.tasks import task_key

        task = TaskItem(
            id="", subject="Follow up", due=NOW.date() + timedelta(days=2), owner_id=harness.user_id
        )
        key = task_key(task)
        [result] = harness.crm.apply([Create(RecordKind.TASK, key, task)])
        assert result.ok
        assert harness.crm.find_existing(RecordKind.TASK, [key]) == {key: result.id}

    def test_updates_and_deletes_show_in_the_next_read(self, harness: CrmHarness) -> None:
        task = harness.add_task("Call Bob", NOW.date() + timedelta(days=1))
        event = harness.add_event("Demo", NOW + timedelta(days=2), NOW + timedelta(days=2, hours=1))
        contact = harness.add_contact("Bob", "Stone", "bob@globex.com")
        pages = harness.crm.changes({}, options(harness.user_id))
        cursors = {s: read_all(p)[2] for s, p in pages.items()}

        results = harness.crm.apply(
            [
                Update(RecordKind.TASK, task, {"completed": True, "subject": "Called Bob"}),
                Update(RecordKind.CONTACT, contact, {"title": "CTO"}),
                Delete(RecordKind.EVENT, event),
            ]
        )
        assert [r.ok for r in results] == [True, True, True]
        pages = harness.crm.changes(cursors, options(harness.user_id))
        tasks = read_all(pages[Stream.TASKS])[0]
        assert [(t.subject, t.completed) for t in tasks if isinstance(t, TaskItem)] == [("Called Bob", True)]
        contacts = read_all(pages[Stream.CONTACTS])[0]
        assert [c.title for c in contacts if isinstance(c, ContactItem)] == ["CTO"]
        assert event in read_all(pages[Stream.EVENTS])[1]

    def test_one_refused_record_does_not_stop_the_rest_of_the_batch(self, harness: CrmHarness) -> None:
        harness.reject_subject("REJECT")
        tasks = [
            TaskItem(id="", subject=f"Task {n}" + (" REJECT" if n == 3 else ""), owner_id=harness.user_id)
            for n in range(6)
        ]
        results = harness.crm.apply([Create(RecordKind.TASK, t.subject, t) for t in tasks])
        assert [r.ok for r in results] == [True, True, True, False, True, True]
        assert results[3].error_code == "SF-VALIDATION" and results[3].id is None
        assert len({r.id for r in results if r.ok}) == 5

    def test_a_lead_without_company_is_refused_as_a_required_field(self, harness: CrmHarness) -> None:
        results = harness.crm.apply(
            [
                Create(
                    RecordKind.LEAD,
                    "new@hooli.com",
                    NewPerson(PersonKind.LEAD, "new@hooli.com", "New", "Lead", company=""),
                ),
                Create(
                    RecordKind.LEAD,
                    "ok@hooli.com",
                    NewPerson(PersonKind.LEAD, "ok@hooli.com", "Ok", "Lead", company="Hooli"),
                ),
            ]
        )
        assert (results[0].ok, results[0].error_code) == (False, "SF-REQUIRED-FIELD")
        assert results[1].ok
        assert harness.crm.find_existing(RecordKind.LEAD, ["ok@hooli.com"]) == {"ok@hooli.com": results[1].id}

    def test_a_mailbox_contact_with_a_company_joins_or_creates_its_account(self, harness: CrmHarness) -> None:
        globex = harness.add_account("Globex", "globex.com")
        contacts = [
            ContactItem(id="", first_name="Zed", last_name="Zane", email="zed@globex.com", company="Globex"),
            ContactItem(id="", first_name="Yul", last_name="Yost", email="yul@newco.com", company="NewCo"),
        ]
        results = harness.crm.apply([Create(RecordKind.CONTACT, c.email, c) for c in contacts])
        assert all(r.ok for r in results)
        pages = harness.crm.changes({}, options(harness.user_id, contacts_scope="all"))
        by_email = {c.email: c for c in read_all(pages[Stream.CONTACTS])[0] if isinstance(c, ContactItem)}
        assert by_email["zed@globex.com"].account_id == globex
        assert by_email["yul@newco.com"].company == "NewCo" and by_email["yul@newco.com"].account_id
