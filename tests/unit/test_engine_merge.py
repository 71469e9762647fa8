"""The three-way merge shared by calendar, tasks and contacts (SPEC §4.4, §4.6, §5, §6.2)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from rgsync.engine.fields import (
    CONTACT_FIELDS,
    EVENT_FIELDS,
    TASK_FIELDS,
    apply_fields,
    fields_of,
    item_from_fields,
    typed_changes,
)
from rgsync.engine.merge import merge_fields, pair_changes
from rgsync.engine.types import SideChanges
from rgsync.model import (
    CalendarItem,
    ContactItem,
    Link,
    PostalAddress,
    Priority,
    ShowAs,
    Side,
    Stream,
    TaskItem,
)
from tests.unit.world import ctx

KEYS = ("a", "b", "c")
BASE = {"a": "1", "b": "2", "c": "3"}


# --- merge_fields: examples ---------------------------------------------------------------------


def test_spec_4_4_field_changed_in_mailbox_only_reaches_salesforce() -> None:
    merge = merge_fields(BASE, {**BASE, "a": "new"}, None, keys=KEYS)
    assert merge.to_salesforce == {"a": "new"}
    assert merge.to_mailbox == {}
    assert merge.fields["a"] == "new"


def test_spec_4_4_field_changed_in_salesforce_only_reaches_mailbox() -> None:
    merge = merge_fields(BASE, None, {**BASE, "b": "sf"}, keys=KEYS)
    assert merge.to_mailbox == {"b": "sf"}
    assert merge.to_salesforce == {}


def test_spec_4_4_same_field_changed_on_both_sides_mailbox_wins() -> None:
    merge = merge_fields(BASE, {**BASE, "a": "mine"}, {**BASE, "a": "theirs"}, keys=KEYS)
    assert merge.fields["a"] == "mine"
    assert merge.to_salesforce == {"a": "mine"}
    assert merge.to_mailbox == {}
    assert merge.conflicts == ("a",)


def test_spec_4_4_different_fields_changed_on_each_side_both_survive() -> None:
    merge = merge_fields(BASE, {**BASE, "a": "mine"}, {**BASE, "b": "theirs"}, keys=KEYS)
    assert merge.fields == {"a": "mine", "b": "theirs", "c": "3"}
    assert merge.to_salesforce == {"a": "mine"}
    assert merge.to_mailbox == {"b": "theirs"}
    assert merge.conflicts == ()


def test_spec_4_6_mailbox_authority_reverts_salesforce_edit() -> None:
    merge = merge_fields(BASE, None, {**BASE, "b": "sf"}, keys=KEYS, authority=Side.MAILBOX)
    assert merge.to_salesforce == {"b": "2"}
    assert merge.to_mailbox == {}


def test_spec_4_6_salesforce_authority_reverts_mailbox_edit() -> None:
    merge = merge_fields(
        BASE, {**BASE, "a": "mine"}, {**BASE, "b": "sf"}, keys=KEYS, authority=Side.SALESFORCE
    )
    assert merge.to_mailbox == {"a": "1", "b": "sf"}
    assert merge.to_salesforce == {}


def test_salesforce_owned_field_only_flows_down() -> None:
    merge = merge_fields(BASE, {**BASE, "c": "mine"}, None, keys=KEYS, salesforce_owned={"c"})
    assert merge.to_salesforce == {}
    assert merge.to_mailbox == {"c": "3"}


def test_missing_base_key_counts_as_changed_on_both_sides() -> None:
    merge = merge_fields({}, {"a": "mine"}, {"a": "theirs"}, keys=("a",))
    assert merge.fields == {"a": "mine"}
    assert merge.to_salesforce == {"a": "mine"}


def test_bookkeeping_keys_outside_the_merge_are_kept_in_the_base() -> None:
    merge = merge_fields({**BASE, "who_ids": "003BOB"}, {**BASE, "a": "x"}, None, keys=KEYS)
    assert merge.fields["who_ids"] == "003BOB"


# --- merge_fields: properties -------------------------------------------------------------------

values = st.sampled_from(["", "x", "y", "z"])
records = st.fixed_dictionaries({k: values for k in KEYS})
maybe_records = st.none() | records


@given(base=records, mailbox=maybe_records, salesforce=maybe_records)
def test_property_mailbox_wins_every_field_it_changed(
    base: dict[str, str], mailbox: dict[str, str] | None, salesforce: dict[str, str] | None
) -> None:
    merge = merge_fields(base, mailbox, salesforce, keys=KEYS)
    for key in KEYS:
        if mailbox is not None and mailbox[key] != base[key]:
            assert merge.fields[key] == mailbox[key]


@given(base=records, mailbox=maybe_records, salesforce=maybe_records)
def test_property_change_on_one_side_only_reaches_the_other(
    base: dict[str, str], mailbox: dict[str, str] | None, salesforce: dict[str, str] | None
) -> None:
    merge = merge_fields(base, mailbox, salesforce, keys=KEYS)
    mine = mailbox or base
    theirs = salesforce or base
    for key in KEYS:
        if mine[key] != base[key] and theirs[key] == base[key]:
            assert merge.to_salesforce[key] == mine[key]
            assert key not in merge.to_mailbox
        if theirs[key] != base[key] and mine[key] == base[key]:
            assert merge.to_mailbox[key] == theirs[key]
            assert key not in merge.to_salesforce


@given(
    base=records, mailbox=maybe_records, salesforce=maybe_records, authority=st.sampled_from([None, *Side])
)
def test_property_both_sides_end_equal_to_the_new_base(
    base: dict[str, str],
    mailbox: dict[str, str] | None,
    salesforce: dict[str, str] | None,
    authority: Side | None,
) -> None:
    merge = merge_fields(base, mailbox, salesforce, keys=KEYS, authority=authority)
    mine = {**(mailbox or base), **merge.to_mailbox}
    theirs = {**(salesforce or base), **merge.to_salesforce}
    assert mine == theirs == {k: merge.fields[k] for k in KEYS}


@given(base=records, same=st.booleans())
def test_property_nothing_changed_is_a_no_op(base: dict[str, str], same: bool) -> None:
    # Unchanged either as "not reported" (None) or reported with the base's own values.
    side = dict(base) if same else None
    merge = merge_fields(base, side, side, keys=KEYS)
    assert not merge.changed
    assert merge.fields == base
    assert merge.conflicts == ()


@given(base=records, mailbox=maybe_records, salesforce=maybe_records)
def test_property_merge_is_idempotent(
    base: dict[str, str], mailbox: dict[str, str] | None, salesforce: dict[str, str] | None
) -> None:
    first = merge_fields(base, mailbox, salesforce, keys=KEYS)
    settled = {k: first.fields[k] for k in KEYS}
    again = merge_fields(first.fields, settled, settled, keys=KEYS)
    assert not again.changed


# --- fields -------------------------------------------------------------------------------------


def test_calendar_fields_are_normalised_to_utc_and_trimmed() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    item = CalendarItem(
        "x",
        " Review \r\n",
        datetime(2026, 11, 29, 10, 0, tzinfo=berlin),
        datetime(2026, 11, 29, 11, 0, 30, 500, tzinfo=berlin),
        location="Room 1 ",
        show_as=ShowAs.FREE,
    )
    assert fields_of(item) == {
        "subject": "Review",
        "start": "2026-11-29T09:00:00Z",
        "end": "2026-11-29T10:00:30Z",
        "all_day": "0",
        "location": "Room 1",
        "show_as": "Free",
    }
    assert set(fields_of(item)) == set(EVENT_FIELDS)
    assert "description" not in fields_of(item)  # copied once on creation only (SPEC §4.4)


def test_typed_changes_decode_each_field() -> None:
    changes = typed_changes(
        CalendarItem, {"start": "2026-11-29T09:00:00Z", "all_day": "1", "show_as": "Free"}
    )
    assert changes == {
        "start": datetime(2026, 11, 29, 9, tzinfo=UTC),
        "all_day": True,
        "show_as": ShowAs.FREE,
    }
    task = typed_changes(TaskItem, {"due": "2026-12-01", "completed": "1", "priority": "High"})
    assert task == {"due": date(2026, 12, 1), "completed": True, "priority": Priority.HIGH}
    assert typed_changes(TaskItem, {"due": ""}) == {"due": None}


def test_mailing_parts_fold_into_one_postal_address() -> None:
    complete = fields_of(
        ContactItem("c", mailing=PostalAddress("1 Main St", "Springfield", "", "12345", "US"))
    )
    changes = typed_changes(ContactItem, {"mailing.city": "Shelbyville"}, complete)
    assert changes == {"mailing": PostalAddress("1 Main St", "Shelbyville", "", "12345", "US")}


def test_item_round_trips_through_its_fields() -> None:
    task = TaskItem("t", "Call", due=date(2026, 12, 1), completed=True, priority=Priority.LOW, notes="n")
    assert item_from_fields(TaskItem, fields_of(task), id="t") == task
    contact = ContactItem(
        "c", "Bob", "Baker", "bob@globex.com", mobile_phone="+1", mailing=PostalAddress(city="X")
    )
    assert item_from_fields(ContactItem, fields_of(contact), id="c") == contact
    assert set(fields_of(contact)) == set(CONTACT_FIELDS)
    assert set(fields_of(task)) == set(TASK_FIELDS)


def test_apply_fields_gives_the_item_after_an_update() -> None:
    task = TaskItem("t", "Call")
    assert apply_fields(task, {"completed": "1"}).completed is True


# --- pairing ------------------------------------------------------------------------------------


def test_pair_changes_groups_both_sides_by_link() -> None:
    link = Link(Stream.TASKS, "m1", "s1", Side.SALESFORCE, {"subject": "a"})
    context = ctx(links={"m1": link}, links_by_salesforce_id={"s1": link})
    mb = TaskItem("m1", "mine")
    sf = TaskItem("s1", "theirs")
    new_mb = TaskItem("m2", "new here")
    new_sf = TaskItem("s2", "new there")
    pairing = pair_changes(SideChanges((mb, new_mb)), SideChanges((sf, new_sf), deleted=("s9",)), context)
    assert len(pairing.linked) == 1
    pair = pairing.linked[0]
    assert (pair.link, pair.mailbox, pair.salesforce) == (link, mb, sf)
    assert not pair.mailbox_deleted and not pair.salesforce_deleted
    assert pairing.new_in_mailbox == (new_mb,)
    assert pairing.new_in_salesforce == (new_sf,)
    assert pairing.unlinked_salesforce_deletions == ("s9",)


def test_pair_changes_deletion_replaces_an_earlier_change() -> None:
    link = Link(Stream.TASKS, "m1", "s1", Side.SALESFORCE)
    context = ctx(links={"m1": link}, links_by_salesforce_id={"s1": link})
    pairing = pair_changes(SideChanges((TaskItem("m1", "x"),), deleted=("m1",)), SideChanges(), context)
    assert pairing.linked[0].mailbox is None
    assert pairing.linked[0].mailbox_deleted
