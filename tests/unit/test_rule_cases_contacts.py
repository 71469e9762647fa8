"""RULE-CASES.md, contacts (C1–C7), on the planner (SPEC §6).

Which Contacts are in scope (all / mine / view) is chosen by the Salesforce query, so C1–C3 check
that the planner down-syncs what the query returned and removes what left the scope.
"""

from __future__ import annotations

from rgsync.engine.contacts import plan_contacts
from rgsync.engine.types import ContactsScope, Plan
from rgsync.model import ContactItem, Delete, Link, RecordKind, Side, Stream
from tests.unit.world import BOB, CAROL, DAVE, FRANK_ID, GUS, XENA
from tests.unit.world import ctx as world_ctx
from tests.unit.world_calendar import (
    NOTHING,
    changes,
    contact_of,
    creates,
    deletes,
    link_after,
    only_action,
    reasons,
    replace,
    updates,
    with_links,
)


def down(*contacts: ContactItem, **settings: object) -> Plan:
    return plan_contacts(NOTHING, changes(*contacts), world_ctx(**settings))


def created_names(plan: Plan) -> list[str]:
    return sorted(
        c.record.first_name for c in creates(plan, Side.MAILBOX) if isinstance(c.record, ContactItem)
    )


def bob_linked() -> tuple[ContactItem, ContactItem, Link]:
    """Bob down-synced: the Salesforce Contact, its mailbox copy and the stored link."""
    bob = contact_of(BOB)
    plan = down(bob)
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, ContactItem)
    return (
        bob,
        replace(create.record, id="person-bob"),
        link_after(only_action(plan), "person-bob", Stream.CONTACTS),
    )


def test_C1_scope_mine_holds_anns_contacts_and_drops_one_whose_owner_changed() -> None:
    # The "mine" query returns Ann's Contacts (Xena is not Ann's in RULE-CASES C1).
    mine = [contact_of(BOB), contact_of(DAVE), contact_of(GUS)]
    plan = down(*mine, contacts_scope=ContactsScope.MINE)
    assert created_names(plan) == ["Bob", "Dave", "Gus"]
    assert all(
        isinstance(c.record, ContactItem) and c.record.salesforce_id == c.key
        for c in creates(plan, Side.MAILBOX)
    )
    # A Contact handed to Frank leaves the scope: it leaves the mailbox too.
    _bob, copy, link = bob_linked()
    moved = contact_of(BOB, owner_id=FRANK_ID)
    plan = plan_contacts(NOTHING, changes(moved), with_links([link], contacts_scope=ContactsScope.MINE))
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.CONTACT, copy.id)]
    assert deletes(plan, Side.SALESFORCE) == []


def test_C1_scope_mine_does_not_copy_a_colleagues_contact() -> None:
    plan = down(contact_of(CAROL), contacts_scope=ContactsScope.MINE)
    assert plan.actions == [] and reasons(plan) == ["not-owner"]


def test_C2_scope_all_holds_every_contact_the_user_can_read() -> None:
    everyone = [contact_of(p) for p in (BOB, CAROL, DAVE, GUS, XENA)]
    plan = down(*everyone, contacts_scope=ContactsScope.ALL)
    assert created_names(plan) == ["Bob", "Carol", "Dave", "Gus", "Xena"]


def test_C3_scope_view_holds_the_views_contacts_and_drops_one_that_left_it() -> None:
    globex_people = [contact_of(BOB), contact_of(DAVE), contact_of(XENA, owner_id=FRANK_ID)]
    plan = down(*globex_people, contacts_scope=ContactsScope.VIEW, contacts_view="Globex people")
    assert created_names(plan) == ["Bob", "Dave", "Xena"]
    _bob, copy, link = bob_linked()
    context = with_links([link], contacts_scope=ContactsScope.VIEW, contacts_view="Globex people")
    plan = plan_contacts(NOTHING, changes(deleted=[BOB.id]), context)
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.CONTACT, copy.id)]


def test_C4_contact_deleted_in_the_mailbox_is_recreated_with_forbid_remove() -> None:
    bob, copy, link = bob_linked()
    plan = plan_contacts(changes(deleted=[copy.id]), NOTHING, with_links([link]))
    assert deletes(plan, Side.SALESFORCE) == []
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, ContactItem)
    assert (create.record.last_name, create.record.email, create.record.salesforce_id) == (
        bob.last_name,
        bob.email,
        BOB.id,
    )


def test_C5_contact_deleted_in_the_mailbox_is_deleted_in_salesforce_without_forbid_remove() -> None:
    _bob, copy, link = bob_linked()
    plan = plan_contacts(
        changes(deleted=[copy.id]), NOTHING, with_links([link], contacts_forbid_remove=False)
    )
    assert deletes(plan, Side.SALESFORCE) == [Delete(RecordKind.CONTACT, BOB.id)]


def test_C6_mobile_changed_in_the_mailbox_updates_salesforce() -> None:
    _bob, copy, link = bob_linked()
    plan = plan_contacts(changes(replace(copy, mobile_phone="+1 555 0100")), NOTHING, with_links([link]))
    assert [(u.id, u.changes) for u in updates(plan, Side.SALESFORCE)] == [
        (BOB.id, {"mobile_phone": "+1 555 0100"})
    ]
    assert updates(plan, Side.MAILBOX) == []


def test_C7_switching_contacts_off_removes_every_salesforce_origin_contact() -> None:
    links = []
    for person in (BOB, DAVE, GUS):
        plan = down(contact_of(person))
        links.append(link_after(only_action(plan), f"person-{person.first_name}", Stream.CONTACTS))
    plan = plan_contacts(NOTHING, NOTHING, with_links(links, sync_salesforce_contacts=False))
    assert sorted(d.id for d in deletes(plan, Side.MAILBOX)) == ["person-Bob", "person-Dave", "person-Gus"]
    assert [a for a in plan.actions if a.side is Side.SALESFORCE] == []
    assert all(a.link is not None and a.link.remove for a in plan.actions)
