"""RULE-CASES.md, calendar (V1–V21), on the planner (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rgsync.engine.calendar import plan_events
from rgsync.engine.types import CalendarDirection, Plan
from rgsync.model import (
    CalendarItem,
    Delete,
    EventRecord,
    Link,
    RecordKind,
    Response,
    Side,
    Stream,
    event_key,
    utc,
)
from tests.unit.world import ANN_ID, BOB, O2, directory
from tests.unit.world import ctx as world_ctx
from tests.unit.world_calendar import (
    NOTHING,
    all_day,
    appointment,
    berlin,
    changes,
    creates,
    deletes,
    issue_codes,
    link_after,
    link_only,
    meeting,
    only_action,
    reasons,
    replace,
    sf_event,
    updates,
    with_links,
)

BOB_MAIL = BOB.email
BLOCKED = "x@blocked.com"


def plan_up(item: CalendarItem, **settings: object) -> Plan:
    return plan_events(changes(item), NOTHING, directory(), world_ctx(**settings))


def saved_event(plan: Plan) -> EventRecord:
    (create,) = creates(plan, Side.SALESFORCE)
    assert create.kind is RecordKind.EVENT
    assert isinstance(create.record, EventRecord)
    return create.record


def v1_linked() -> tuple[CalendarItem, CalendarItem, Link]:
    """V1 saved: the mailbox meeting, its Event as Salesforce reports it, and the stored link."""
    item = meeting(BOB_MAIL, description="Agenda")
    plan = plan_up(item)
    link = link_after(only_action(plan), "00UV1", Stream.EVENTS)
    record = saved_event(plan)
    event = replace(
        record.item,
        id="00UV1",
        owner_id=ANN_ID,
        who_ids=record.who_ids,
        what_id=record.what_id,
        created_by_rgsync=True,
        attendees=(),
        organizer=None,
    )
    return item, event, link


def v15_linked() -> tuple[CalendarItem, CalendarItem, Link]:
    """V15 down-synced: the Salesforce Event, its mailbox copy, and the stored link."""
    event = sf_event("Pipeline review", event_id="00UV15")
    plan = plan_events(NOTHING, changes(event), directory(), world_ctx())
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, CalendarItem)
    link = link_after(only_action(plan), "cal-v15", Stream.EVENTS)
    return event, replace(create.record, id="cal-v15"), link


def test_V1_meeting_organised_by_ann_with_bob_is_saved_in_utc_linked_to_bob_and_o2() -> None:
    item = meeting(BOB_MAIL)
    plan = plan_up(item)
    record = saved_event(plan)
    assert record.item.start == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert record.item.end == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert record.item.start.utcoffset() == timedelta(0)
    assert record.who_ids == (BOB.id,)
    assert record.what_id == O2.id
    assert record.owner_id == ANN_ID
    action = only_action(plan)
    assert (
        action.link is not None and action.link.mailbox_id == item.id and action.link.origin is Side.MAILBOX
    )
    (create,) = creates(plan, Side.SALESFORCE)
    assert create.key == event_key("Globex sync", item.start, ANN_ID)


def test_V2_unanswered_invitation_from_bob_is_skipped() -> None:
    plan = plan_up(meeting(organizer=BOB_MAIL, my_response=Response.NONE))
    assert plan.actions == []
    assert reasons(plan) == ["unanswered"]


def test_V3_tentatively_accepted_invitation_is_saved() -> None:
    plan = plan_up(meeting(organizer=BOB_MAIL, my_response=Response.TENTATIVE))
    assert saved_event(plan).who_ids == (BOB.id,)


def test_V4_declined_invitation_is_skipped_even_with_save_unanswered() -> None:
    plan = plan_up(
        meeting(organizer=BOB_MAIL, my_response=Response.DECLINED), save_unanswered_invitations=True
    )
    assert plan.actions == []
    assert reasons(plan) == ["declined"]


def test_V5_meeting_with_frank_only_is_internal() -> None:
    plan = plan_up(meeting("frank@acme.com"))
    assert plan.actions == []
    assert reasons(plan) == ["internal"]


def test_V6_meeting_with_blocklisted_attendee_only_is_skipped() -> None:
    plan = plan_up(meeting(BLOCKED))
    assert plan.actions == []
    assert reasons(plan) == ["blocklisted"]


def test_V7_meeting_with_blocklisted_and_bob_is_saved_with_bob_only() -> None:
    plan = plan_up(meeting(BLOCKED, BOB_MAIL))
    assert saved_event(plan).who_ids == (BOB.id,)


def test_V8_appointment_is_skipped_with_appointments_off() -> None:
    plan = plan_up(appointment())
    assert plan.actions == []
    assert reasons(plan) == ["appointments-off"]


def test_V9_appointment_is_saved_without_people_when_switched_on() -> None:
    record = saved_event(plan_up(appointment(), auto_save_appointments=True))
    assert record.who_ids == ()
    assert record.what_id is None
    assert record.item.subject == "Dentist"


def test_V10_private_meeting_is_skipped() -> None:
    plan = plan_up(meeting(BOB_MAIL, private=True))
    assert plan.actions == []
    assert reasons(plan) == ["private"]


def test_V11_private_meeting_is_saved_private_without_people_or_what() -> None:
    record = saved_event(plan_up(meeting(BOB_MAIL, private=True), save_private_events=True))
    assert record.item.private is True
    assert record.who_ids == ()
    assert record.what_id is None


def test_V12_meeting_beyond_the_60_day_window_is_skipped() -> None:
    plan = plan_up(meeting(BOB_MAIL, start=berlin(datetime(2027, 2, 10).date(), 10)))
    assert plan.actions == []
    assert reasons(plan) == ["outside-window"]


def test_V13_all_day_event_of_20_days_is_an_event_too_long_issue() -> None:
    plan = plan_up(all_day(20), auto_save_appointments=True)
    assert plan.actions == []
    assert issue_codes(plan) == ["EVENT-TOO-LONG"]
    assert reasons(plan) == ["cannot-sync"]


def test_V14_weekly_meeting_gives_one_event_per_occurrence() -> None:
    first = meeting(BOB_MAIL, subject="Weekly", series_id="series-1")
    occurrences = [
        replace(
            first,
            id=f"{first.id}-{n}",
            start=first.start + timedelta(weeks=n),
            end=first.end + timedelta(weeks=n),
        )
        for n in range(3)
    ]
    plan = plan_events(changes(*occurrences), NOTHING, directory(), world_ctx())
    created = creates(plan, Side.SALESFORCE)
    assert len(created) == 3
    assert len({c.key for c in created}) == 3
    assert [a.link.mailbox_id for a in plan.actions if a.link] == [o.id for o in occurrences]
    assert [c.record.item.start for c in created if isinstance(c.record, EventRecord)] == [
        utc(o.start) for o in occurrences
    ]


def test_V15_salesforce_event_is_created_in_the_mailbox_tagged_without_invitations() -> None:
    event = sf_event("Pipeline review", event_id="00UV15", who_ids=(BOB.id,))
    plan = plan_events(NOTHING, changes(event), directory(), world_ctx())
    (create,) = creates(plan, Side.MAILBOX)
    assert create.kind is RecordKind.EVENT
    assert create.key == "00UV15"
    record = create.record
    assert isinstance(record, CalendarItem)
    assert record.salesforce_id == "00UV15"  # the Salesforce-origin tag
    assert (record.subject, record.start, record.end) == (event.subject, event.start, event.end)
    # Attendees are listed for the user to see, none of them asked to answer.
    assert [(a.address.email, a.response) for a in record.attendees] == [(BOB_MAIL, Response.NONE)]
    assert creates(plan, Side.SALESFORCE) == [] and updates(plan, Side.SALESFORCE) == []
    action = only_action(plan)
    assert action.link is not None and action.link.origin is Side.SALESFORCE


def test_V16_switching_salesforce_calendar_off_removes_the_copy_and_keeps_the_event() -> None:
    _event, copy, link = v15_linked()
    plan = plan_events(NOTHING, NOTHING, directory(), with_links([link], sync_salesforce_calendar=False))
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.EVENT, copy.id)]
    assert [a for a in plan.actions if a.side is Side.SALESFORCE] == []
    assert only_action(plan).link is not None and only_action(plan).link.remove  # type: ignore[union-attr]


def test_V17_subject_changed_on_both_sides_both_carry_the_mailbox_subject() -> None:
    item, event, link = v1_linked()
    plan = plan_events(
        changes(replace(item, subject="Mailbox title")),
        changes(replace(event, subject="Salesforce title")),
        directory(),
        with_links([link]),
    )
    assert [(u.id, u.changes) for u in updates(plan, Side.SALESFORCE)] == [
        ("00UV1", {"subject": "Mailbox title"})
    ]
    assert updates(plan, Side.MAILBOX) == []
    assert all(a.link and a.link.fields["subject"] == "Mailbox title" for a in plan.actions)


def test_V18_meeting_cancelled_in_the_mailbox_deletes_the_event() -> None:
    item, _event, link = v1_linked()
    plan = plan_events(changes(replace(item, cancelled=True)), NOTHING, directory(), with_links([link]))
    assert deletes(plan, Side.SALESFORCE) == [Delete(RecordKind.EVENT, "00UV1")]
    assert deletes(plan, Side.MAILBOX) == []
    assert plan.deletes(Stream.EVENTS, Side.SALESFORCE) == 1


def test_V19_event_deleted_in_salesforce_leaves_the_meeting_in_the_mailbox_unlinked() -> None:
    item, _event, link = v1_linked()
    plan = plan_events(NOTHING, changes(deleted=["00UV1"]), directory(), with_links([link]))
    assert deletes(plan, Side.MAILBOX) == [] and deletes(plan, Side.SALESFORCE) == []
    (change,) = link_only(plan)
    assert change.remove and change.mailbox_id == item.id


def test_V20_down_synced_event_deleted_in_salesforce_is_removed_from_the_mailbox() -> None:
    _event, copy, link = v15_linked()
    plan = plan_events(NOTHING, changes(deleted=["00UV15"]), directory(), with_links([link]))
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.EVENT, copy.id)]
    assert deletes(plan, Side.SALESFORCE) == []


def test_V21_salesforce_subject_change_is_reverted_under_mailbox_to_salesforce() -> None:
    item, event, link = v1_linked()
    plan = plan_events(
        NOTHING,
        changes(replace(event, subject="Edited in Salesforce")),
        directory(),
        with_links([link], calendar_direction=CalendarDirection.MAILBOX_TO_SALESFORCE),
    )
    assert [(u.id, u.changes) for u in updates(plan, Side.SALESFORCE)] == [
        ("00UV1", {"subject": item.subject})
    ]
    assert updates(plan, Side.MAILBOX) == []
