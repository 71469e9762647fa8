"""Resolution and linking (SPEC §3.3, §3.5), shared by emails and meetings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from rgsync.engine.linking import MAX_WHO_IDS, LinkChoice, choose_links, resolve_people
from rgsync.model import Opportunity, Person, PersonKind
from tests.unit.world import (
    ANN_ID,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    GLOBEX,
    GUS,
    INITECH,
    O1,
    O2,
    O3,
    ctx,
    directory,
    people_index,
)


def test_spec_3_3_addresses_resolve_case_insensitively_in_order() -> None:
    people, unresolved = resolve_people(
        ["Carol@Initech.com", "zed@globex.com", "bob@globex.com"], directory()
    )
    assert people == [CAROL, BOB]
    assert unresolved == ["zed@globex.com"]


def test_spec_3_3_contact_wins_over_lead_with_the_same_address() -> None:
    lead = Person("00QBOB", PersonKind.LEAD, BOB.email, "Bob", "Baker")
    org = directory(people=people_index([lead, BOB]))
    assert resolve_people([BOB.email], org) == ([BOB], [])


def test_spec_3_3_each_address_and_record_appears_once() -> None:
    people, unresolved = resolve_people(
        [BOB.email, "BOB@globex.com", "new@x.com", "new@x.com", "bad"], directory()
    )
    assert people == [BOB]
    assert unresolved == ["new@x.com"]


def test_spec_3_5_newest_own_opportunity_of_a_matched_account() -> None:
    assert choose_links([BOB], directory(), ctx()) == LinkChoice((BOB.id,), O2.id)


def test_spec_3_5_tie_on_last_modified_goes_to_latest_close_date() -> None:
    later_close = replace(O1, last_modified=O2.last_modified, close_date=date(2027, 3, 1))
    org = directory(opportunities=(later_close, O2, O3))
    assert choose_links([BOB], org, ctx()) == LinkChoice((BOB.id,), O1.id)


def test_spec_3_5_opportunities_of_other_owners_are_not_linked() -> None:
    # O3 (Frank's) is the most recent of all, on Carol's Account.
    assert choose_links([CAROL], directory(), ctx()) == LinkChoice((CAROL.id,), INITECH.id)


def test_spec_3_5_opportunity_of_any_matched_contacts_account() -> None:
    mine_on_initech = Opportunity("006O4", "O4", INITECH.id, ANN_ID, datetime(2026, 11, 27, tzinfo=UTC))
    org = directory(opportunities=(O1, O2, O3, mine_on_initech))
    assert choose_links([BOB, CAROL], org, ctx()) == LinkChoice((BOB.id, CAROL.id), "006O4")


def test_spec_3_5_account_of_first_contact_with_one_when_no_opportunity() -> None:
    org = directory(opportunities=())
    assert choose_links([GUS, CAROL, BOB], org, ctx()) == LinkChoice((GUS.id, CAROL.id, BOB.id), INITECH.id)


def test_spec_3_5_contacts_without_account_are_not_saved() -> None:
    assert choose_links([GUS], directory(), ctx()) is None


def test_spec_3_5_switch_off_links_first_contacts_account() -> None:
    context = ctx(link_to_opportunities=False)
    assert choose_links([DAVE, CAROL], directory(), context) == LinkChoice((DAVE.id, CAROL.id), GLOBEX.id)
    assert choose_links([GUS], directory(), context) == LinkChoice((GUS.id,), None)


def test_spec_3_5_leads_only_link_the_first_lead_alone() -> None:
    other = Person("00QOTHER", PersonKind.LEAD, "o@hooli.com")
    assert choose_links([ERIN, other], directory(), ctx()) == LinkChoice((ERIN.id,), None)


def test_spec_3_5_contacts_and_leads_link_the_contacts() -> None:
    assert choose_links([ERIN, BOB], directory(), ctx()) == LinkChoice((BOB.id,), O2.id)


def test_spec_3_6_manual_save_links_people_and_account_never_opportunity() -> None:
    assert choose_links([BOB], directory(), ctx(), by_rule=False) == LinkChoice((BOB.id,), GLOBEX.id)
    assert choose_links([GUS], directory(), ctx(), by_rule=False) == LinkChoice((GUS.id,), None)


def test_no_people_means_no_links() -> None:
    assert choose_links([], directory(), ctx()) == LinkChoice((), None)


def test_spec_3_7_at_most_50_people_are_related() -> None:
    many = [
        Person(f"003P{i:03}", PersonKind.CONTACT, f"p{i}@globex.com", account_id=GLOBEX.id) for i in range(60)
    ]
    links = choose_links(many, directory(), ctx())
    assert links is not None
    assert len(links.who_ids) == MAX_WHO_IDS
    assert links.who_ids[0] == "003P000"


def test_spec_3_3_one_person_with_two_contacts_relates_both_and_the_newest_opportunity_of_either() -> None:
    """One address held by a Contact at Initech and one at Globex: both are related, and the newest
    of Ann's Opportunities on either Account is chosen (here O4 on Initech over O2 on Globex)."""
    at_initech = Person("003PAT1", PersonKind.CONTACT, "pat@park.com", "Pat", "Park", INITECH.id, ANN_ID)
    at_globex = Person("003PAT2", PersonKind.CONTACT, "pat@park.com", "Pat", "Park", GLOBEX.id, ANN_ID)
    newest = replace(O2, id="006O4", account_id=INITECH.id, last_modified=datetime(2026, 11, 26, tzinfo=UTC))
    org = directory(people=people_index([at_initech, at_globex]), opportunities=(O1, O2, O3, newest))
    people, _ = resolve_people(["pat@park.com"], org)
    assert {p.id for p in people} == {"003PAT1", "003PAT2"}
    assert choose_links(people, org, ctx()) == LinkChoice(tuple(p.id for p in people), "006O4")
