"""Records auto-resolve creates for unresolved addresses (SPEC §3.4).

Which addresses qualify is decided by the email rules (`rgsync.engine.emails`); this module turns
them into creates: names from the display name, Lead Company / Contact Account from the domain.
"""

from __future__ import annotations

from collections.abc import Sequence

from rgsync.engine.types import Action, AutoResolve, Directory, StreamContext
from rgsync.model import Address, Create, NewAccount, NewPerson, PersonKind, RecordKind, Side, Stream

# Salesforce field lengths (Contact/Lead FirstName 40, LastName 80; Account Name, Lead Company 255).
FIRST_NAME_MAX = 40
LAST_NAME_MAX = 80
COMPANY_MAX = 255

# Second-level labels under a country code that are not a company's name (globex.co.uk → Globex).
_GENERIC_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ltd", "plc", "ne", "or"})


def account_name_for(domain: str) -> str:
    """A readable Account name for an email domain: its registrable label, capitalised.

    newco.com → Newco; mail.globex.co.uk → Globex; a bare label is returned capitalised.
    """
    labels = [label for label in domain.strip().lower().strip(".").split(".") if label]
    if labels and labels[0] == "www":
        labels = labels[1:]
    if not labels:
        return domain
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SECOND_LEVEL:
        name = labels[-3]
    elif len(labels) >= 2:
        name = labels[-2]
    else:
        name = labels[0]
    return (name[:1].upper() + name[1:])[:COMPANY_MAX]


def person_name(address: Address) -> tuple[str, str]:
    """(first name, last name) for a new Lead or Contact.

    From the display name ("Nia New" → Nia / New; "New, Nia" → Nia / New; one word → last name
    only); a display name that is empty or itself an address gives LastName = the local part.
    """
    name = " ".join(address.name.replace('"', " ").split()).strip("'")
    if not name or "@" in name:
        return "", address.email.rpartition("@")[0][:LAST_NAME_MAX]
    if "," in name:
        last, _, first = name.partition(",")
        if last.strip() and first.strip():
            return first.strip()[:FIRST_NAME_MAX], last.strip()[:LAST_NAME_MAX]
        name = name.replace(",", " ").strip()
    words = name.split()
    if len(words) == 1:
        return "", words[0][:LAST_NAME_MAX]
    return " ".join(words[:-1])[:FIRST_NAME_MAX], words[-1][:LAST_NAME_MAX]


def plan_new_records(addresses: Sequence[Address], directory: Directory, ctx: StreamContext) -> list[Action]:
    """Creates for the given unresolved addresses, in the mode of `auto-resolve` (SPEC §3.4).

    Contact mode: the Contact joins the Account whose Website domain matches its domain
    (`directory.accounts_by_domain`), else a new Account named after the domain, created first and
    once per domain; until the session knows its id the Contact has `account_id=None` and
    `company=<domain>` (the key of the Account's create). Lead mode: Company is the matching
    Account's name, else a name made from the domain.
    """
    mode = ctx.rules.auto_resolve
    if mode is AutoResolve.OFF:
        return []
    owner = ctx.identity.user_id
    accounts: dict[str, Action] = {}
    people: list[Action] = []
    seen: set[str] = set()
    for address in addresses:
        email, domain = address.email, address.domain
        if not domain or email in seen:
            continue
        seen.add(email)
        first, last = person_name(address)
        account = directory.accounts_by_domain.get(domain)
        if mode is AutoResolve.LEAD:
            company = account.name if account else account_name_for(domain)
            record = NewPerson(
                PersonKind.LEAD, email, first, last, company=company[:COMPANY_MAX], owner_id=owner
            )
            people.append(_create(RecordKind.LEAD, email, record, address.name or email))
            continue
        if account is not None:
            record = NewPerson(
                PersonKind.CONTACT,
                email,
                first,
                last,
                company=account.name,
                account_id=account.id,
                owner_id=owner,
            )
        else:
            if domain not in accounts:
                new_account = NewAccount(name=account_name_for(domain), website=domain)
                accounts[domain] = _create(RecordKind.ACCOUNT, domain, new_account, new_account.name)
            record = NewPerson(PersonKind.CONTACT, email, first, last, company=domain, owner_id=owner)
        people.append(_create(RecordKind.CONTACT, email, record, address.name or email))
    return [*accounts.values(), *people]


def _create(kind: RecordKind, key: str, record: NewPerson | NewAccount, subject: str) -> Action:
    return Action(Stream.EMAILS, Side.SALESFORCE, Create(kind, key, record), None, subject)
