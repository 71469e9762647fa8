"""Contacts planner rules, one test per rule of SPEC §6."""

from __future__ import annotations

import pytest

from rgsync.engine.contacts import contact_key, plan_contacts
from rgsync.engine.types import ContactsScope, Plan
from rgsync.model import ContactItem, Delete, Link, PostalAddress, RecordKind, Side, Stream
from tests.unit.world import ANN_ID, BOB, FRANK_ID
from tests.unit.world import ctx as world_ctx
from tests.unit.world_calendar import (
    NOTHING,
    changes,
    contact_of,
    creates,
    deletes,
    issue_codes,
    link_after,
    mailbox_contact,
    only_action,
    reasons,
    replace,
    updates,
    with_links,
)


def linked(**fields: object) -> tuple[ContactItem, ContactItem, Link]:
    """Bob down-synced by a first session: (Salesforce Contact, mailbox copy, link)."""
    bob = contact_of(BOB, **fields)
    plan = plan_contacts(NOTHING, changes(bob), world_ctx())
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, ContactItem)
    return (
        bob,
        replace(create.record, id="person-bob"),
        link_after(only_action(plan), "person-bob", Stream.CONTACTS),
    )


def session(
    mailbox: list[ContactItem] | None = None,
    salesforce: list[ContactItem] | None = None,
    *,
    links: list[Link],
    mailbox_deleted: tuple[str, ...] = (),
    salesforce_deleted: tuple[str, ...] = (),
    **settings: object,
) -> Plan:
    return plan_contacts(
        changes(*(mailbox or []), deleted=mailbox_deleted),
        changes(*(salesforce or []), deleted=salesforce_deleted),
        with_links(links, **settings),
    )


# --- §6.2 creation ------------------------------------------------------------------------------


def test_spec_6_2_down_synced_contact_carries_every_field_and_the_origin_tag() -> None:
    bob = contact_of(BOB, phone="+1 555 0001", title="CTO", mailing=PostalAddress(city="Springfield"))
    plan = plan_contacts(NOTHING, changes(bob), world_ctx())
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, ContactItem)
    assert create.record == replace(bob, id="", salesforce_id=BOB.id)
    assert create.record.company == "Globex"


def test_spec_6_2_contact_created_in_the_mailbox_folder_is_created_in_salesforce() -> None:
    new = mailbox_contact("Nia", "New", "Nia@NewCo.com", company="NewCo", mobile_phone="+49 1")
    plan = plan_contacts(changes(new), NOTHING, world_ctx())
    (create,) = creates(plan, Side.SALESFORCE)
    assert create.kind is RecordKind.CONTACT
    assert isinstance(create.record, ContactItem)
    assert (create.record.last_name, create.record.company, create.record.owner_id) == (
        "New",
        "NewCo",
        ANN_ID,
    )
    assert create.key == contact_key(new) == "nia@newco.com"
    change = only_action(plan).link
    assert change is not None and (change.mailbox_id, change.origin) == (new.id, Side.MAILBOX)


def test_spec_6_2_contact_without_last_name_is_an_issue_not_a_failed_write() -> None:
    plan = plan_contacts(changes(mailbox_contact("Madonna", "", "m@music.com")), NOTHING, world_ctx())
    assert plan.actions == []
    assert issue_codes(plan) == ["SF-REQUIRED-FIELD"]
    assert reasons(plan) == ["cannot-sync"]
    assert "last name" in plan.issues[0].advice


# --- §6.2 fields --------------------------------------------------------------------------------

EDITS: dict[str, object] = {
    "first_name": "Robert",
    "last_name": "Barker",
    "email": "robert@globex.com",
    "phone": "+1 555 0002",
    "mobile_phone": "+1 555 0003",
    "title": "VP Sales",
    "department": "Sales",
    "notes": "Met at the fair",
    "mailing": PostalAddress("1 Main St", "Springfield", "IL", "62701", "US"),
}


@pytest.mark.parametrize(("field", "value"), EDITS.items())
def test_spec_6_2_field_edited_in_the_mailbox_reaches_salesforce(field: str, value: object) -> None:
    _bob, copy, link = linked()
    plan = session([replace(copy, **{field: value})], links=[link])
    assert [(u.id, u.changes) for u in updates(plan, Side.SALESFORCE)] == [(BOB.id, {field: value})]
    assert updates(plan, Side.MAILBOX) == []


@pytest.mark.parametrize(("field", "value"), EDITS.items())
def test_spec_6_2_field_edited_in_salesforce_reaches_the_mailbox(field: str, value: object) -> None:
    bob, copy, link = linked()
    plan = session([], [replace(bob, **{field: value})], links=[link])
    assert [(u.id, u.changes) for u in updates(plan, Side.MAILBOX)] == [(copy.id, {field: value})]


def test_spec_6_2_address_parts_edited_on_each_side_both_survive() -> None:
    bob, copy, link = linked(mailing=PostalAddress("Old St", "Oldtown"))
    plan = session(
        [replace(copy, mailing=PostalAddress("New St", "Oldtown"))],
        [replace(bob, mailing=PostalAddress("Old St", "Newtown"))],
        links=[link],
    )
    both = PostalAddress("New St", "Newtown")
    assert [u.changes for u in updates(plan, Side.SALESFORCE)] == [{"mailing": both}]
    assert [u.changes for u in updates(plan, Side.MAILBOX)] == [{"mailing": both}]


def test_spec_6_2_conflict_mailbox_wins() -> None:
    bob, copy, link = linked()
    plan = session([replace(copy, title="Mine")], [replace(bob, title="Theirs")], links=[link])
    assert [u.changes for u in updates(plan, Side.SALESFORCE)] == [{"title": "Mine"}]
    assert updates(plan, Side.MAILBOX) == []


def test_spec_6_2_company_follows_the_account_and_is_not_pushed_up() -> None:
    bob, copy, link = linked()
    plan = session([replace(copy, company="Other Corp")], links=[link])
    assert updates(plan, Side.SALESFORCE) == []
    assert [u.changes for u in updates(plan, Side.MAILBOX)] == [{"company": "Globex"}]
    plan = session([], [replace(bob, company="Globex International")], links=[link])
    assert [u.changes for u in updates(plan, Side.MAILBOX)] == [{"company": "Globex International"}]


def test_spec_6_2_email_case_change_alone_is_not_a_change() -> None:
    bob, copy, link = linked()
    assert session([replace(copy, email="Bob@Globex.com")], [bob], links=[link]).actions == []


# --- §6.2 deletions and scope -------------------------------------------------------------------


def test_spec_6_2_contact_deleted_in_salesforce_is_removed_from_the_mailbox() -> None:
    _bob, copy, link = linked()
    plan = session(links=[link], salesforce_deleted=(BOB.id,))
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.CONTACT, copy.id)]
    assert deletes(plan, Side.SALESFORCE) == []


def test_spec_6_1_owner_change_under_scope_all_keeps_the_contact() -> None:
    bob, _copy, link = linked()
    plan = session([], [replace(bob, owner_id=FRANK_ID)], links=[link], contacts_scope=ContactsScope.ALL)
    assert deletes(plan, Side.MAILBOX) == []


def test_spec_6_2_recreated_contact_keeps_its_link_origin_and_id() -> None:
    _bob, copy, link = linked()
    plan = session(links=[link], mailbox_deleted=(copy.id,))
    change = only_action(plan).link
    assert change is not None
    assert (change.mailbox_id, change.salesforce_id, change.origin) == ("", BOB.id, Side.SALESFORCE)
    (create,) = creates(plan, Side.MAILBOX)
    assert create.key == BOB.id


def test_spec_6_2_switch_off_removes_a_tagged_copy_whose_link_was_lost() -> None:
    orphan = replace(contact_of(BOB), id="person-orphan", salesforce_id=BOB.id)
    plan = plan_contacts(changes(orphan), NOTHING, world_ctx(sync_salesforce_contacts=False))
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.CONTACT, "person-orphan")]


def test_spec_6_2_tagged_copy_whose_contact_was_deleted_is_removed() -> None:
    orphan = replace(contact_of(BOB), id="person-orphan", salesforce_id=BOB.id)
    plan = plan_contacts(changes(orphan), changes(deleted=[BOB.id]), world_ctx())
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.CONTACT, "person-orphan")]
