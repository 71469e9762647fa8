"""Resolution and linking of emails and meetings (SPEC §3.3, §3.5).

`resolve_people` turns addresses into people records (a Contact wins over a Lead for the same
address; an address held by several Contacts — one person at two Accounts — stands for all of
them, so the Opportunity is chosen across all their Accounts); `choose_links` picks the WhoIds and the one WhatId an activity is saved with:

* by rule (automatic saving), with `link-to-opportunities` on and Contacts among the people: the
  most recent Opportunity owned by the user on an Account of a matched Contact (latest
  LastModifiedDate, tie → latest CloseDate); else the Account of the first matched Contact that has
  one; else the item is not saved at all (`None`);
* by rule with the switch off: the people, and the first matched Contact's Account if any;
* manual saves (`by_rule=False`): the people, and the first matched Contact's Account — never an
  Opportunity chosen by rule;
* Leads only: the first Lead alone and no WhatId. Salesforce lets nothing else sit beside a Lead
  on an activity (help article "Activities Linking"), so when Contacts are matched too the Leads
  are left out rather than the Contacts, which keep the business record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from rgsync.engine.blocklist import normalise_address
from rgsync.engine.types import Directory, StreamContext
from rgsync.model import Opportunity, Person, PersonKind

# Shared Activities relates at most 50 people to one Task or Event (SPEC §3.7).
MAX_WHO_IDS = 50


@dataclass(frozen=True)
class LinkChoice:
    """What an activity is linked to: people records (`who_ids`, WhoId first) and a business record."""

    who_ids: tuple[str, ...]
    what_id: str | None


def _best_for_address(candidates: Sequence[Person]) -> Person:
    """One people record for an address: a Contact over a Lead; among Contacts one with an Account.

    Among equals the directory's order is kept, so the choice is stable from session to session.
    """

    def rank(person: Person) -> tuple[int, int]:
        is_contact = person.kind is PersonKind.CONTACT
        return (0 if is_contact else 1, 0 if (is_contact and person.account_id) else 1)

    return min(candidates, key=rank)


def resolve_people(addresses: Sequence[str], directory: Directory) -> tuple[list[Person], list[str]]:
    """Look addresses up in the directory (case-insensitive), in their order (SPEC §3.3).

    Returns (people records: every Contact of a resolved address, else its best Lead, each record
    once; addresses that matched nothing). Invalid addresses are dropped from both lists.
    """
    people: list[Person] = []
    unresolved: list[str] = []
    seen_addresses: set[str] = set()
    seen_ids: set[str] = set()
    for raw in addresses:
        address = normalise_address(raw)
        if not address or address in seen_addresses:
            continue
        seen_addresses.add(address)
        candidates = directory.people.get(address, ())
        if not candidates:
            unresolved.append(address)
            continue
        for person in _records_for_address(candidates):
            if person.id not in seen_ids:
                seen_ids.add(person.id)
                people.append(person)
    return people, unresolved


def _records_for_address(candidates: Sequence[Person]) -> list[Person]:
    """The people records one address stands for: every Contact with it (one person kept at two
    Accounts is two Contacts, and the activity concerns both), else the best Lead."""
    contacts = [p for p in candidates if p.kind is PersonKind.CONTACT]
    if not contacts:
        return [_best_for_address(candidates)]
    # Contacts with an Account first: the first one's Account is the fallback business record.
    return sorted(contacts, key=lambda p: 0 if p.account_id else 1)


def _opportunity_order(opportunity: Opportunity) -> tuple[datetime, date, str]:
    # The id only makes the choice deterministic when both dates tie.
    return (opportunity.last_modified, opportunity.close_date or date.min, opportunity.id)


def most_recent_opportunity(
    account_ids: Sequence[str], directory: Directory, owner_id: str
) -> Opportunity | None:
    """The user's most recent Opportunity on one of the accounts (SPEC §3.5), or None."""
    accounts = set(account_ids)
    candidates = [
        o
        for o in directory.opportunities
        if o.owner_id == owner_id and o.account_id and o.account_id in accounts
    ]
    return max(candidates, key=_opportunity_order) if candidates else None


def choose_links(
    people: Sequence[Person], directory: Directory, ctx: StreamContext, *, by_rule: bool = True
) -> LinkChoice | None:
    """Choose WhoIds and WhatId for an activity whose matched people are `people` (SPEC §3.5).

    `people` are in participant order (From, To, Cc). Returns None only when, by rule with
    `link-to-opportunities` on, Contacts were matched and none of them has an Account: such an
    item is not saved at all. No people → no links (the caller decides whether to save).
    """
    contacts = [p for p in people if p.kind is PersonKind.CONTACT]
    leads = [p for p in people if p.kind is PersonKind.LEAD]
    if not contacts:
        return LinkChoice((leads[0].id,) if leads else (), None)

    who_ids = tuple(c.id for c in contacts)[:MAX_WHO_IDS]
    account_ids = [c.account_id for c in contacts if c.account_id]
    first_account = account_ids[0] if account_ids else None
    if not by_rule or not ctx.rules.link_to_opportunities:
        return LinkChoice(who_ids, first_account)

    opportunity = most_recent_opportunity(account_ids, directory, ctx.identity.user_id)
    if opportunity is not None:
        return LinkChoice(who_ids, opportunity.id)
    if first_account is not None:
        return LinkChoice(who_ids, first_account)
    return None
