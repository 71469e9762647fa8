"""The shared "world" of RULE-CASES.md as domain records, for planner tests.

Import it as `from tests.unit.world import ...`. Everything here is a plain value; build variations with `rules(**overrides)`,
`ctx(**overrides)` and `directory(**overrides)` instead of mutating anything.

The world: user Ann Lee (ann@acme.com, alias a.lee@acme.com, User 005A, Europe/Berlin); colleague
Frank (frank@acme.com, User 005F); internal domain acme.io; user blocklist domain blocked.com;
Accounts Globex (www.globex.com) and Initech (initech.com); Contacts Bob, Carol, Dave, Gus, Xena;
Lead Erin; Opportunities O1, O2 (Globex, Ann's) and O3 (Initech, Frank's). Today is Saturday
2026-11-28 and "now" is 12:00 Berlin time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rgsync.engine.types import Blocklist, Directory, Identity, Rules, StreamContext
from rgsync.model import (
    Account,
    Address,
    EmailItem,
    Folder,
    Opportunity,
    Person,
    PersonKind,
)

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=BERLIN).astimezone(UTC)

# --- users --------------------------------------------------------------------------------------
ANN_ID = "005A"
ANN = "ann@acme.com"
ANN_ALIAS = "a.lee@acme.com"
FRANK_ID = "005F"
FRANK = "frank@acme.com"

IDENTITY = Identity(user_id=ANN_ID, address=ANN, aliases=frozenset({ANN_ALIAS}), time_zone="Europe/Berlin")

# A small stand-in for the maintained free-mail list the session hands in.
FREE_MAIL_DOMAINS = frozenset(
    {"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "gmx.de", "icloud.com"}
)

# --- accounts -----------------------------------------------------------------------------------
GLOBEX = Account(id="001GLOBEX", name="Globex", website="www.globex.com")
INITECH = Account(id="001INITECH", name="Initech", website="initech.com")
ACCOUNTS = (GLOBEX, INITECH)

# --- people records -----------------------------------------------------------------------------
BOB = Person("003BOB", PersonKind.CONTACT, "bob@globex.com", "Bob", "Baker", GLOBEX.id, ANN_ID)
CAROL = Person("003CAROL", PersonKind.CONTACT, "carol@initech.com", "Carol", "Cole", INITECH.id, FRANK_ID)
DAVE = Person("003DAVE", PersonKind.CONTACT, "dave@gmail.com", "Dave", "Dunn", GLOBEX.id, ANN_ID)
GUS = Person("003GUS", PersonKind.CONTACT, "gus@solo.com", "Gus", "Grant", None, ANN_ID)
XENA = Person("003XENA", PersonKind.CONTACT, "x@blocked.com", "Xena", "Xu", GLOBEX.id, ANN_ID)
ERIN = Person("00QERIN", PersonKind.LEAD, "erin@hooli.com", "Erin", "Ellis", None, ANN_ID)
CONTACTS = (BOB, CAROL, DAVE, GUS, XENA)
LEADS = (ERIN,)
PEOPLE = CONTACTS + LEADS

# --- opportunities ------------------------------------------------------------------------------
O1 = Opportunity(
    "006O1", "O1", GLOBEX.id, ANN_ID, datetime(2026, 11, 1, 9, 0, tzinfo=UTC), date(2026, 12, 31)
)
O2 = Opportunity(
    "006O2", "O2", GLOBEX.id, ANN_ID, datetime(2026, 11, 20, 9, 0, tzinfo=UTC), date(2026, 12, 15)
)
# Frank's, and the most recently modified of all: a rule that forgot the owner would pick it.
O3 = Opportunity(
    "006O3", "O3", INITECH.id, FRANK_ID, datetime(2026, 11, 25, 9, 0, tzinfo=UTC), date(2027, 1, 31)
)
OPPORTUNITIES = (O1, O2, O3)


def people_index(people: Iterable[Person]) -> dict[str, tuple[Person, ...]]:
    """Map lower-cased address → every people record with it, as `Directory.people` expects."""
    index: dict[str, tuple[Person, ...]] = {}
    for person in people:
        key = person.email.lower()
        index[key] = (*index.get(key, ()), person)
    return index


def directory(*, extra_people: Iterable[Person] = (), **overrides: Any) -> Directory:
    """The org as the session would have looked it up: every person, account and opportunity.

    `extra_people` adds people records (e.g. ones auto-resolve created); other keyword arguments
    replace `Directory` fields.
    """
    base = Directory(
        people=people_index((*PEOPLE, *extra_people)),
        accounts={a.id: a for a in ACCOUNTS},
        opportunities=OPPORTUNITIES,
        accounts_by_domain={"globex.com": GLOBEX, "initech.com": INITECH},
        existing_emails={},
        existing_events={},
    )
    return dataclasses.replace(base, **overrides)


_BLOCKLIST_FIELDS = {f.name for f in dataclasses.fields(Blocklist)}
_CONTEXT_FIELDS = {f.name for f in dataclasses.fields(StreamContext)}


def blocklist(**overrides: Any) -> Blocklist:
    """The world's blocklist (blocked.com, internal acme.io, free mail blocked) with overrides."""
    base = Blocklist(
        addresses=frozenset(),
        domains=frozenset({"blocked.com"}),
        block_free_email_domains=True,
        internal_domains=frozenset({"acme.io"}),
        free_mail_domains=FREE_MAIL_DOMAINS,
    )
    return dataclasses.replace(base, **overrides)


def rules(**overrides: Any) -> Rules:
    """Default settings (SPEC §1) with the world's blocklist.

    Keyword arguments name `Rules` fields or `Blocklist` fields (e.g.
    `rules(auto_resolve=AutoResolve.CONTACT, block_free_email_domains=False)`).
    """
    list_overrides = {k: v for k, v in overrides.items() if k in _BLOCKLIST_FIELDS}
    rule_overrides = {k: v for k, v in overrides.items() if k not in _BLOCKLIST_FIELDS}
    if "blocklist" not in rule_overrides:
        rule_overrides["blocklist"] = blocklist(**list_overrides)
    elif list_overrides:
        rule_overrides["blocklist"] = dataclasses.replace(rule_overrides["blocklist"], **list_overrides)
    return dataclasses.replace(Rules(), **rule_overrides)


def ctx(**overrides: Any) -> StreamContext:
    """A StreamContext for Ann at NOW (a later session, no links).

    Keyword arguments naming `StreamContext` fields replace them (identity, rules, now, links,
    links_by_salesforce_id, first_session); any other keyword goes to `rules(...)`, so
    `ctx(first_session=True, history_days=6, link_to_opportunities=False)` works.
    """
    context_overrides = {k: v for k, v in overrides.items() if k in _CONTEXT_FIELDS}
    rule_overrides = {k: v for k, v in overrides.items() if k not in _CONTEXT_FIELDS}
    if "rules" in context_overrides and rule_overrides:
        context_overrides["rules"] = rules(**{**_rules_as_dict(context_overrides["rules"]), **rule_overrides})
    elif "rules" not in context_overrides:
        context_overrides["rules"] = rules(**rule_overrides)
    base = StreamContext(identity=IDENTITY, rules=context_overrides.pop("rules"), now=NOW)
    return dataclasses.replace(base, **context_overrides)


def _rules_as_dict(r: Rules) -> dict[str, Any]:
    return {f.name: getattr(r, f.name) for f in dataclasses.fields(Rules)}


def addr(email: str, name: str = "") -> Address:
    """An Address the way adapters deliver it (lower-cased, stripped)."""
    return Address(email.strip().lower(), name)


_counter = iter(range(1, 1_000_000))


def email(
    sender: str | Address | None,
    to: Iterable[str | Address] = (ANN,),
    cc: Iterable[str | Address] = (),
    *,
    folder: Folder | None = None,
    mailbox_id: str | None = None,
    message_id: str | None = None,
    thread_id: str | None = None,
    subject: str = "Hello",
    sent_at: datetime | None = None,
    **fields: Any,
) -> EmailItem:
    """An EmailItem for a case. Strings are turned into Addresses.

    The folder defaults to SENT when Ann (or her alias) is the sender, else INBOX. Ids default to
    fresh unique values; `sent_at` defaults to one hour before NOW. Other keywords set EmailItem fields.
    """

    def as_addr(a: str | Address) -> Address:
        return a if isinstance(a, Address) else addr(a)

    n = next(_counter)
    sender_addr = as_addr(sender) if sender is not None else None
    if folder is None:
        folder = Folder.SENT if sender_addr and sender_addr.email in (ANN, ANN_ALIAS) else Folder.INBOX
    return EmailItem(
        mailbox_id=mailbox_id or f"mbx-{n}",
        message_id=message_id if message_id is not None else f"<m{n}@mail.example>",
        thread_id=thread_id or f"thread-{n}",
        folder=folder,
        subject=subject,
        sent_at=sent_at or NOW - timedelta(hours=1),
        sender=sender_addr,
        to=tuple(as_addr(a) for a in to),
        cc=tuple(as_addr(a) for a in cc),
        **fields,
    )
