"""Calendar planner rules, one test per rule of SPEC §4."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from rgsync.engine.calendar import event_lookups, plan_events
from rgsync.engine.types import CalendarDirection, Plan, SideChanges, StreamContext
from rgsync.model import (
    Address,
    Attendee,
    CalendarItem,
    Create,
    Delete,
    EventInvitee,
    EventRecord,
    ExistingEvent,
    Link,
    Person,
    PersonKind,
    RecordKind,
    Response,
    ShowAs,
    Side,
    Stream,
    Update,
    meeting_key,
)
from tests.unit.world import (
    ANN,
    ANN_ALIAS,
    ANN_ID,
    BOB,
    CAROL,
    ERIN,
    FRANK_ID,
    GLOBEX,
    GUS,
    NOW,
    O2,
    directory,
)
from tests.unit.world import ctx as world_ctx
from tests.unit.world_calendar import (
    NOTHING,
    TOMORROW,
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


def plan_up(item: CalendarItem, **settings: object) -> Plan:
    return plan_events(changes(item), NOTHING, directory(), world_ctx(**settings))


def saved(plan: Plan) -> EventRecord:
    (create,) = creates(plan, Side.SALESFORCE)
    assert isinstance(create.record, EventRecord)
    return create.record


def linked_meeting(**item_fields: object) -> tuple[CalendarItem, CalendarItem, Link]:
    """A meeting with Bob saved by a first session: (mailbox item, Salesforce Event, link)."""
    item = meeting(BOB.email, **item_fields)  # type: ignore[arg-type]
    plan = plan_up(item, **({"save_private_events": True} if item.private else {}))
    link = link_after(only_action(plan), "00UM1", Stream.EVENTS)
    record = saved(plan)
    event = replace(
        record.item,
        id="00UM1",
        owner_id=ANN_ID,
        who_ids=record.who_ids,
        what_id=record.what_id,
        created_by_rgsync=True,
        attendees=(),
        organizer=None,
    )
    return item, event, link


def linked_meeting_with(*attendees: str) -> tuple[CalendarItem, CalendarItem, Link]:
    """Like `linked_meeting`, with these attendees."""
    item = meeting(*attendees)
    plan = plan_up(item)
    record = saved(plan)
    event = replace(record.item, id="00UM1", owner_id=ANN_ID, who_ids=record.who_ids, what_id=record.what_id)
    return item, event, link_after(only_action(plan), "00UM1", Stream.EVENTS)


def down_synced(**event_fields: object) -> tuple[CalendarItem, CalendarItem, Link]:
    """A Salesforce Event copied to the mailbox by a first session: (Event, mailbox copy, link)."""
    event = sf_event(event_id="00US1", **event_fields)  # type: ignore[arg-type]
    plan = plan_events(NOTHING, changes(event), directory(), world_ctx())
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, CalendarItem)
    return (
        event,
        replace(create.record, id="cal-copy"),
        link_after(only_action(plan), "cal-copy", Stream.EVENTS),
    )


def session(
    mailbox: list[CalendarItem] | None = None,
    salesforce: list[CalendarItem] | None = None,
    *,
    links: list[Link],
    mailbox_deleted: tuple[str, ...] = (),
    salesforce_deleted: tuple[str, ...] = (),
    **settings: object,
) -> Plan:
    context: StreamContext = with_links(links, **settings)
    return plan_events(
        changes(*(mailbox or []), deleted=mailbox_deleted),
        changes(*(salesforce or []), deleted=salesforce_deleted),
        directory(),
        context,
    )


# --- §4.1 candidates and kinds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "saved_expected"),
    [
        (timedelta(days=-13), True),
        (timedelta(days=-15), False),
        (timedelta(days=59), True),
        (timedelta(days=61), False),
    ],
)
def test_spec_4_1_only_items_starting_inside_the_window_are_candidates(
    offset: timedelta, saved_expected: bool
) -> None:
    plan = plan_up(meeting(BOB.email, start=NOW + offset))
    assert bool(creates(plan, Side.SALESFORCE)) is saved_expected
    if not saved_expected:
        assert reasons(plan) == ["outside-window"]


def test_spec_4_1_window_follows_the_configured_days() -> None:
    plan = plan_up(meeting(BOB.email, start=NOW - timedelta(days=3)), calendar_past_days=2)
    assert reasons(plan) == ["outside-window"]


def test_spec_4_1_item_whose_only_attendee_is_the_user_alias_is_an_appointment() -> None:
    plan = plan_up(meeting(ANN_ALIAS))
    assert reasons(plan) == ["appointments-off"]


def test_spec_4_1_each_occurrence_is_judged_on_its_own() -> None:
    inside = meeting(BOB.email, series_id="s")
    outside = replace(
        inside, id="occ-2", start=inside.start + timedelta(days=70), end=inside.end + timedelta(days=70)
    )
    plan = plan_events(changes(inside, outside), NOTHING, directory(), world_ctx())
    assert [
        c.record.item.id for c in creates(plan, Side.SALESFORCE) if isinstance(c.record, EventRecord)
    ] == [inside.id]
    assert [(s.item_id, s.reason.value) for s in plan.skips] == [("occ-2", "outside-window")]


# --- §4.2 up-sync -------------------------------------------------------------------------------


@pytest.mark.parametrize("response", [Response.ACCEPTED, Response.TENTATIVE])
def test_spec_4_2_accepted_invitations_are_saved(response: Response) -> None:
    assert saved(plan_up(meeting(organizer=BOB.email, my_response=response))).who_ids == (BOB.id,)


def test_spec_4_2_unanswered_invitation_is_saved_with_save_unanswered_invitations() -> None:
    plan = plan_up(meeting(organizer=BOB.email, my_response=Response.NONE), save_unanswered_invitations=True)
    assert saved(plan).who_ids == (BOB.id,)


def test_spec_4_2_declined_meeting_is_never_saved() -> None:
    plan = plan_up(meeting(organizer=BOB.email, my_response=Response.DECLINED))
    assert reasons(plan) == ["declined"]


def test_spec_4_2_meetings_switch_off_skips_meetings_but_not_appointments() -> None:
    plan = plan_events(
        changes(meeting(BOB.email), appointment()),
        NOTHING,
        directory(),
        world_ctx(auto_save_meetings=False, auto_save_appointments=True),
    )
    assert reasons(plan) == ["meetings-off"]
    assert saved(plan).item.subject == "Dentist"


def test_spec_4_2_private_item_saved_with_setting_carries_no_attendees() -> None:
    record = saved(plan_up(meeting(BOB.email, private=True), save_private_events=True))
    assert record.item.private and record.item.attendees == () and record.who_ids == ()


def test_spec_4_2_internal_domains_make_a_meeting_internal() -> None:
    assert reasons(plan_up(meeting("ops@acme.io", "frank@acme.com"))) == ["internal"]


def test_spec_4_2_free_mail_attendees_count_as_blocklisted() -> None:
    assert reasons(plan_up(meeting("dave@gmail.com"))) == ["blocklisted"]


def test_spec_4_2_free_mail_attendee_links_when_free_mail_is_not_blocked() -> None:
    plan = plan_up(meeting("dave@gmail.com"), block_free_email_domains=False)
    assert saved(plan).who_ids == ("003DAVE",)


def test_spec_4_2_meeting_without_resolvable_attendee_is_skipped_even_with_auto_resolve() -> None:
    from rgsync.engine.types import AutoResolve

    plan = plan_up(meeting("zed@nowhere.org"), auto_resolve=AutoResolve.CONTACT)
    assert plan.actions == []
    assert reasons(plan) == ["no-related-record"]


def test_spec_4_2_meeting_whose_contact_has_no_account_is_not_saved() -> None:
    plan = plan_up(meeting(GUS.email))
    assert reasons(plan) == ["no-opportunity-or-account"]


def test_spec_4_2_meeting_with_a_lead_links_the_lead_alone() -> None:
    record = saved(plan_up(meeting(ERIN.email)))
    assert (record.who_ids, record.what_id) == ((ERIN.id,), None)


def test_spec_4_2_link_to_opportunities_off_links_the_contact_account() -> None:
    record = saved(plan_up(meeting(BOB.email), link_to_opportunities=False))
    assert (record.who_ids, record.what_id) == ((BOB.id,), GLOBEX.id)


def test_spec_4_2_all_matched_people_are_related() -> None:
    record = saved(plan_up(meeting(BOB.email, CAROL.email, "zed@nowhere.org")))
    assert record.who_ids == (BOB.id, CAROL.id)
    assert record.what_id == O2.id


def test_spec_4_2_written_fields_and_description_are_copied_on_creation() -> None:
    item = meeting(BOB.email, location="Room 4", show_as=ShowAs.OUT_OF_OFFICE, description="Agenda: pricing")
    record = saved(plan_up(item))
    assert (record.item.subject, record.item.location, record.item.show_as) == (
        "Globex sync",
        "Room 4",
        ShowAs.OUT_OF_OFFICE,
    )
    assert record.item.description == "Agenda: pricing"
    assert record.item.start == item.start and record.item.end == item.end


def test_spec_4_2_colleague_event_the_user_may_edit_gets_the_user_as_invitee() -> None:
    item = meeting(BOB.email, organizer="frank@acme.com", my_response=Response.ACCEPTED)
    existing = {meeting_key(item.subject, item.start): ExistingEvent("00UFRANK", FRANK_ID, editable=True)}
    plan = plan_events(changes(item), NOTHING, directory(existing_events=existing), world_ctx())
    (create,) = creates(plan, Side.SALESFORCE)
    assert create.kind is RecordKind.EVENT_INVITEE
    assert create.record == EventInvitee("00UFRANK", ANN_ID)
    link = only_action(plan).link
    assert link is not None and (link.mailbox_id, link.salesforce_id) == (item.id, "00UFRANK")


def test_spec_4_2_colleague_event_the_user_may_not_edit_gives_the_user_an_own_event() -> None:
    item = meeting(BOB.email, organizer="frank@acme.com", my_response=Response.ACCEPTED)
    existing = {meeting_key(item.subject, item.start): ExistingEvent("00UFRANK", FRANK_ID, editable=False)}
    plan = plan_events(changes(item), NOTHING, directory(existing_events=existing), world_ctx())
    (create,) = creates(plan, Side.SALESFORCE)
    assert create.kind is RecordKind.EVENT and isinstance(create.record, EventRecord)
    assert create.record.owner_id == ANN_ID


def test_spec_4_2_users_own_unlinked_event_for_the_meeting_is_adopted_not_duplicated() -> None:
    item = meeting(BOB.email)
    mine = sf_event(item.subject, start=item.start, event_id="00UMINE")
    existing = {meeting_key(item.subject, item.start): ExistingEvent("00UMINE", ANN_ID, editable=True)}
    plan = plan_events(changes(item), changes(mine), directory(existing_events=existing), world_ctx())
    assert creates(plan, Side.SALESFORCE) == [] and creates(plan, Side.MAILBOX) == []
    (link,) = link_only(plan)
    assert (link.mailbox_id, link.salesforce_id, link.remove) == (item.id, "00UMINE", False)


def test_spec_4_2_event_lookups_ask_for_external_attendees_and_unlinked_meeting_keys() -> None:
    new = meeting(BOB.email, "frank@acme.com", "x@blocked.com", "zed@nowhere.org")
    _item, _event, link = linked_meeting(subject="Linked one")
    linked_item = meeting(CAROL.email, subject="Linked one", item_id=link.mailbox_id)
    far = meeting("gus@solo.com", start=NOW + timedelta(days=90))
    needs = event_lookups([new, linked_item, far, appointment()], with_links([link]))
    assert needs.addresses == {BOB.email, "zed@nowhere.org", CAROL.email, "gus@solo.com"}
    assert needs.meeting_keys == {meeting_key(new.subject, new.start)}


# --- §4.3 down-sync -----------------------------------------------------------------------------


def test_spec_4_3_event_where_the_user_is_invitee_is_down_synced() -> None:
    event = sf_event(owner_id=FRANK_ID, invitee_ids=(ANN_ID,))
    plan = plan_events(NOTHING, changes(event), directory(), world_ctx())
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, CalendarItem) and create.record.salesforce_id == event.id


def test_spec_4_3_colleagues_event_without_the_user_is_not_down_synced() -> None:
    plan = plan_events(NOTHING, changes(sf_event(owner_id=FRANK_ID)), directory(), world_ctx())
    assert plan.actions == [] and reasons(plan) == ["not-owner"]


def test_spec_4_3_event_created_from_a_mailbox_is_not_down_synced() -> None:
    plan = plan_events(NOTHING, changes(sf_event(created_by_rgsync=True)), directory(), world_ctx())
    assert plan.actions == [] and reasons(plan) == ["already-saved"]


def test_spec_4_3_event_outside_the_window_is_not_down_synced() -> None:
    plan = plan_events(NOTHING, changes(sf_event(start=NOW + timedelta(days=61))), directory(), world_ctx())
    assert plan.actions == [] and reasons(plan) == ["outside-window"]


def test_spec_4_3_switch_off_creates_nothing_and_removes_only_salesforce_origin_items() -> None:
    _e, copy, sf_link = down_synced()
    item, _ev, mb_link = linked_meeting()
    plan = session(
        [],
        [sf_event(event_id="00UNEW")],
        links=[sf_link, mb_link],
        sync_salesforce_calendar=False,
    )
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.EVENT, copy.id)]
    assert creates(plan, Side.MAILBOX) == []
    assert all(a.link is None or a.link.mailbox_id != item.id for a in plan.actions)


def test_spec_4_3_switch_off_removes_a_tagged_copy_whose_link_was_lost() -> None:
    orphan = replace(meeting(), salesforce_id="00ULOST")
    plan = plan_events(changes(orphan), NOTHING, directory(), world_ctx(sync_salesforce_calendar=False))
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.EVENT, orphan.id)]


def test_spec_4_3_salesforce_modification_follows_to_the_mailbox_copy() -> None:
    event, copy, link = down_synced()
    moved = replace(event, start=event.start + timedelta(hours=1), end=event.end + timedelta(hours=1))
    plan = session([], [moved], links=[link])
    (update,) = updates(plan, Side.MAILBOX)
    assert update.id == copy.id
    assert update.changes == {"start": moved.start, "end": moved.end}


def test_spec_4_3_tagged_copy_without_link_is_adopted_not_duplicated() -> None:
    event = sf_event(event_id="00UCRASH")
    orphan = replace(event, id="cal-orphan", salesforce_id="00UCRASH", owner_id=None)
    plan = plan_events(changes(orphan), changes(event), directory(), world_ctx())
    assert creates(plan, Side.MAILBOX) == []
    (link,) = link_only(plan)
    assert (link.mailbox_id, link.salesforce_id, link.origin) == ("cal-orphan", "00UCRASH", Side.SALESFORCE)


def test_spec_4_3_down_synced_description_is_copied_once() -> None:
    event, copy, link = down_synced(description="Internal notes")
    assert copy.description == "Internal notes"
    plan = session([], [replace(event, description="Private Salesforce notes")], links=[link])
    assert plan.actions == []


# --- §4.4 updates and conflicts -----------------------------------------------------------------

FIELD_EDITS = {
    "subject": "Renamed",
    "location": "Room 9",
    "show_as": ShowAs.FREE,
}


@pytest.mark.parametrize(("field", "value"), FIELD_EDITS.items())
def test_spec_4_4_field_edited_in_the_mailbox_reaches_salesforce(field: str, value: object) -> None:
    item, _event, link = linked_meeting()
    plan = session([replace(item, **{field: value})], links=[link])
    assert [(u.id, u.changes) for u in updates(plan, Side.SALESFORCE)] == [("00UM1", {field: value})]
    assert updates(plan, Side.MAILBOX) == []


@pytest.mark.parametrize(("field", "value"), FIELD_EDITS.items())
def test_spec_4_4_field_edited_in_salesforce_reaches_the_mailbox(field: str, value: object) -> None:
    item, event, link = linked_meeting()
    plan = session([], [replace(event, **{field: value})], links=[link])
    assert [(u.id, u.changes) for u in updates(plan, Side.MAILBOX)] == [(item.id, {field: value})]
    assert updates(plan, Side.SALESFORCE) == []


def test_spec_4_4_rescheduling_and_all_day_flow_both_ways() -> None:
    item, event, link = linked_meeting()
    later = replace(item, start=item.start + timedelta(days=1), end=item.end + timedelta(days=1))
    plan = session([later], links=[link])
    (update,) = updates(plan, Side.SALESFORCE)
    assert update.changes == {"start": later.start, "end": later.end}
    whole_day = replace(
        event,
        all_day=True,
        start=event.start.replace(hour=0),
        end=event.start.replace(hour=0) + timedelta(days=1),
    )
    plan = session([], [whole_day], links=[link])
    (update,) = updates(plan, Side.MAILBOX)
    assert update.changes["all_day"] is True and update.changes["start"] == whole_day.start


def test_spec_4_4_description_is_never_copied_after_creation() -> None:
    item, event, link = linked_meeting(description="Agenda")
    plan = session(
        [replace(item, description="Changed agenda")], [replace(event, description="Secret")], links=[link]
    )
    assert plan.actions == []


def test_spec_4_4_unchanged_pair_reported_again_plans_nothing() -> None:
    item, event, link = linked_meeting()
    assert session([item], [event], links=[link]).actions == []


def test_spec_4_4_field_changed_on_both_sides_mailbox_wins_and_other_fields_merge() -> None:
    item, event, link = linked_meeting()
    plan = session(
        [replace(item, subject="Mine", location="Room 1")],
        [replace(event, subject="Theirs", show_as=ShowAs.FREE)],
        links=[link],
    )
    (to_sf,) = updates(plan, Side.SALESFORCE)
    (to_mb,) = updates(plan, Side.MAILBOX)
    assert to_sf.changes == {"subject": "Mine", "location": "Room 1"}
    assert to_mb.changes == {"show_as": ShowAs.FREE}


def test_spec_4_4_attendee_added_in_the_mailbox_is_related_in_salesforce() -> None:
    item, _event, link = linked_meeting()
    more = replace(item, attendees=(*item.attendees, Attendee(Address(CAROL.email))))
    plan = session([more], links=[link])
    (update,) = updates(plan, Side.SALESFORCE)
    assert update.changes == {"who_ids": (BOB.id, CAROL.id)}
    # Settled: the same list reported again next session changes nothing.
    again = session([more], links=[link_after(plan.actions[0], "", Stream.EVENTS)])
    assert again.actions == []


def test_spec_4_4_attendee_removed_in_the_mailbox_is_unrelated_in_salesforce() -> None:
    item, _event, link = linked_meeting_with(BOB.email, CAROL.email)
    fewer = replace(item, attendees=tuple(a for a in item.attendees if a.address.email != CAROL.email))
    plan = session([fewer], links=[link])
    assert [u.changes for u in updates(plan, Side.SALESFORCE)] == [{"who_ids": (BOB.id,)}]


def test_spec_4_4_mailbox_item_left_without_attendees_keeps_the_events_people() -> None:
    item, _event, link = linked_meeting()
    plan = session([replace(item, attendees=())], links=[link])
    assert updates(plan, Side.SALESFORCE) == []


def test_spec_4_4_person_added_in_salesforce_is_added_to_a_down_synced_item() -> None:
    event, copy, link = down_synced(who_ids=(BOB.id,))
    plan = session([], [replace(event, who_ids=(BOB.id, CAROL.id))], links=[link])
    (update,) = updates(plan, Side.MAILBOX)
    assert update.id == copy.id
    attendees = update.changes["attendees"]
    assert isinstance(attendees, tuple)
    assert [(a.address.email, a.response) for a in attendees] == [
        (BOB.email, Response.NONE),
        (CAROL.email, Response.NONE),
    ]


def test_spec_4_4_person_removed_in_salesforce_stays_in_the_mailbox() -> None:
    event, _copy, link = down_synced(who_ids=(BOB.id, CAROL.id))
    plan = session([], [replace(event, who_ids=(BOB.id,))], links=[link])
    assert updates(plan, Side.MAILBOX) == []


# --- §4.5 deletions -----------------------------------------------------------------------------


def test_spec_4_5_meeting_deleted_in_the_mailbox_deletes_its_event() -> None:
    item, _event, link = linked_meeting()
    plan = session(links=[link], mailbox_deleted=(item.id,))
    (action,) = plan.actions
    assert action.write == Delete(RecordKind.EVENT, "00UM1") and action.side is Side.SALESFORCE
    assert action.link is not None and action.link.remove


def test_spec_4_5_down_synced_item_deleted_in_the_mailbox_deletes_the_event() -> None:
    _event, copy, link = down_synced()
    plan = session(links=[link], mailbox_deleted=(copy.id,))
    assert deletes(plan, Side.SALESFORCE) == [Delete(RecordKind.EVENT, "00US1")]


def test_spec_4_5_leaving_a_colleagues_event_removes_only_the_invitation() -> None:
    item = meeting(BOB.email, organizer="frank@acme.com", my_response=Response.ACCEPTED)
    existing = {meeting_key(item.subject, item.start): ExistingEvent("00UFRANK", FRANK_ID, editable=True)}
    first = plan_events(changes(item), NOTHING, directory(existing_events=existing), world_ctx())
    link = link_after(only_action(first), "", Stream.EVENTS)
    plan = session(links=[link], mailbox_deleted=(item.id,))
    assert deletes(plan, Side.SALESFORCE) == [Delete(RecordKind.EVENT_INVITEE, "00UFRANK")]


def test_spec_4_5_deleted_on_both_sides_only_unlinks() -> None:
    item, _event, link = linked_meeting()
    plan = session(links=[link], mailbox_deleted=(item.id,), salesforce_deleted=("00UM1",))
    assert deletes(plan, Side.SALESFORCE) == [] and deletes(plan, Side.MAILBOX) == []
    assert [c.remove for c in link_only(plan)] == [True]


def test_spec_4_5_salesforce_deletion_unlinks_mailbox_origin_item() -> None:
    item, _event, link = linked_meeting()
    plan = session(links=[link], salesforce_deleted=("00UM1",))
    assert [(c.mailbox_id, c.remove) for c in link_only(plan)] == [(item.id, True)]
    assert plan.deletes(Stream.EVENTS, Side.MAILBOX) == 0


def test_spec_4_5_salesforce_deletion_removes_salesforce_origin_item() -> None:
    _event, copy, link = down_synced()
    plan = session(links=[link], salesforce_deleted=("00US1",))
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.EVENT, copy.id)]


def test_spec_4_5_item_moved_out_of_the_window_is_unlinked_not_deleted() -> None:
    item, _event, link = linked_meeting()
    far = replace(item, start=item.start + timedelta(days=90), end=item.end + timedelta(days=90))
    plan = session([far], links=[link])
    assert [a.write for a in plan.actions] == [None]
    assert [c.remove for c in link_only(plan)] == [True]


@pytest.mark.parametrize("side", [Side.MAILBOX, Side.SALESFORCE])
def test_spec_4_5_item_that_fell_out_of_the_window_and_vanished_from_a_listing_is_unlinked(
    side: Side,
) -> None:
    # Both sides list the window only: an old item missing from a listing has not been deleted.
    old = meeting(BOB.email, start=NOW - timedelta(days=10))
    plan = plan_up(old)
    link = link_after(only_action(plan), "00UOLD", Stream.EVENTS)
    later = with_links([link], now=NOW + timedelta(days=10))
    gone: SideChanges[CalendarItem] = changes(deleted=[old.id] if side is Side.MAILBOX else ["00UOLD"])
    plan = plan_events(
        gone if side is Side.MAILBOX else NOTHING,
        gone if side is Side.SALESFORCE else NOTHING,
        directory(),
        later,
    )
    assert plan.deletes(Stream.EVENTS, Side.MAILBOX) == plan.deletes(Stream.EVENTS, Side.SALESFORCE) == 0
    assert [c.remove for c in link_only(plan)] == [True]


# --- §4.6 one-way options -----------------------------------------------------------------------


def test_spec_4_6_mailbox_to_salesforce_recreates_an_event_deleted_in_salesforce() -> None:
    item, _event, link = linked_meeting()
    plan = session(
        links=[link],
        salesforce_deleted=("00UM1",),
        calendar_direction=CalendarDirection.MAILBOX_TO_SALESFORCE,
    )
    (create,) = creates(plan, Side.SALESFORCE)
    assert isinstance(create.record, EventRecord)
    assert (create.record.item.subject, create.record.item.start) == (item.subject, item.start)
    assert (create.record.who_ids, create.record.what_id) == ((BOB.id,), O2.id)
    change = only_action(plan).link
    assert change is not None and (change.mailbox_id, change.salesforce_id) == (item.id, "")


def test_spec_4_6_mailbox_to_salesforce_still_sends_mailbox_edits() -> None:
    item, _event, link = linked_meeting()
    plan = session(
        [replace(item, location="HQ")],
        links=[link],
        calendar_direction=CalendarDirection.MAILBOX_TO_SALESFORCE,
    )
    assert [u.changes for u in updates(plan, Side.SALESFORCE)] == [{"location": "HQ"}]


def test_spec_4_6_salesforce_to_mailbox_reverts_mailbox_edits() -> None:
    item, _event, link = linked_meeting()
    plan = session(
        [replace(item, subject="Mailbox edit")],
        links=[link],
        calendar_direction=CalendarDirection.SALESFORCE_TO_MAILBOX,
    )
    assert [(u.id, u.changes) for u in updates(plan, Side.MAILBOX)] == [(item.id, {"subject": item.subject})]
    assert updates(plan, Side.SALESFORCE) == []


def test_spec_4_6_salesforce_to_mailbox_recreates_a_mailbox_deletion() -> None:
    event, copy, link = down_synced()
    plan = session(
        links=[link], mailbox_deleted=(copy.id,), calendar_direction=CalendarDirection.SALESFORCE_TO_MAILBOX
    )
    assert deletes(plan, Side.SALESFORCE) == []
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, CalendarItem)
    assert (create.record.salesforce_id, create.record.subject) == ("00US1", event.subject)


def test_spec_4_6_salesforce_to_mailbox_still_brings_salesforce_edits() -> None:
    item, event, link = linked_meeting()
    plan = session(
        [],
        [replace(event, location="HQ")],
        links=[link],
        calendar_direction=CalendarDirection.SALESFORCE_TO_MAILBOX,
    )
    assert [(u.id, u.changes) for u in updates(plan, Side.MAILBOX)] == [(item.id, {"location": "HQ"})]


# --- §4.7 cannot be synced ----------------------------------------------------------------------


def test_spec_4_7_all_day_item_of_14_days_is_still_synced() -> None:
    plan = plan_up(all_day(14), auto_save_appointments=True)
    assert saved(plan).item.all_day


def test_spec_4_7_salesforce_event_longer_than_24_hours_is_an_issue() -> None:
    plan = plan_events(NOTHING, changes(sf_event(minutes=25 * 60)), directory(), world_ctx())
    assert plan.actions == []
    assert issue_codes(plan) == ["EVENT-TOO-LONG"]
    assert plan.issues[0].item.salesforce_id and plan.issues[0].stream is Stream.EVENTS


def test_spec_4_7_salesforce_all_day_event_of_three_days_is_down_synced() -> None:
    from rgsync.model import day_start

    event = sf_event(all_day=True, start=day_start(TOMORROW), minutes=3 * 24 * 60)
    plan = plan_events(NOTHING, changes(event), directory(), world_ctx())
    assert len(creates(plan, Side.MAILBOX)) == 1


def test_spec_4_7_unmapped_time_zone_is_an_issue() -> None:
    plan = plan_up(meeting(BOB.email, timezone_unmapped="Greenland Standard Time"))
    assert plan.actions == []
    assert issue_codes(plan) == ["TZ-UNMAPPED"]
    assert "Greenland Standard Time" in plan.issues[0].message


def test_spec_4_7_more_than_50_people_is_an_issue() -> None:
    crowd = [
        Person(f"003C{n:03d}", PersonKind.CONTACT, f"p{n}@globex.com", "P", str(n), GLOBEX.id, ANN_ID)
        for n in range(51)
    ]
    item = meeting(*(p.email for p in crowd))
    plan = plan_events(changes(item), NOTHING, directory(extra_people=crowd), world_ctx())
    assert plan.actions == []
    assert issue_codes(plan) == ["TOO-MANY-PEOPLE"]
    fifty = meeting(*(p.email for p in crowd[:50]))
    plan = plan_events(changes(fifty), NOTHING, directory(extra_people=crowd), world_ctx())
    assert len(saved(plan).who_ids) == 50


def test_spec_4_7_linked_item_that_became_too_long_is_an_issue_not_an_update() -> None:
    item, _event, link = linked_meeting()
    long_one = replace(item, end=item.start + timedelta(days=20))
    plan = session([long_one], links=[link])
    assert plan.actions == []
    assert issue_codes(plan) == ["EVENT-TOO-LONG"]


def test_spec_4_7_odd_items_never_raise() -> None:
    backwards = meeting(BOB.email, minutes=-30)
    no_subject = meeting(BOB.email, subject="")
    nobody = replace(meeting(), organizer=None, attendees=(Attendee(Address("not-an-address")),))
    plan = plan_events(
        changes(backwards, no_subject, nobody), NOTHING, directory(), world_ctx(auto_save_appointments=True)
    )
    assert isinstance(plan, Plan)


def test_plan_actions_carry_subjects_and_the_events_stream() -> None:
    plan = plan_up(meeting(BOB.email, subject="Named"))
    action = only_action(plan)
    assert (action.stream, action.subject) == (Stream.EVENTS, "Named")
    assert isinstance(action.write, Create | Update)
    assert berlin(TOMORROW, 10) == meeting(BOB.email).start


def test_spec_10_unchanged_linked_meeting_needs_no_lookup() -> None:
    """The echo of a synced meeting must not cost Salesforce lookups; a changed guest list does."""
    from rgsync.engine.calendar.common import BASE_ATTENDEES, attendee_key

    context = world_ctx()
    meeting = CalendarItem(
        id="m1",
        subject="Demo",
        start=NOW + timedelta(days=1),
        end=NOW + timedelta(days=1, hours=1),
        organizer=Address(ANN),
        attendees=(Attendee(Address("bob@globex.com"), Response.ACCEPTED),),
    )
    base = {BASE_ATTENDEES: attendee_key(meeting, context)}
    linked = dataclasses.replace(
        context, links={"m1": Link(Stream.EVENTS, "m1", "00U1", Side.MAILBOX, fields=base)}
    )
    assert event_lookups([meeting], linked).addresses == frozenset()
    changed = dataclasses.replace(
        meeting, attendees=(*meeting.attendees, Attendee(Address("zed@globex.com"), Response.NONE))
    )
    assert event_lookups([changed], linked).addresses == {"bob@globex.com", "zed@globex.com"}
