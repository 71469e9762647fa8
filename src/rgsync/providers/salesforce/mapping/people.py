"""Writing people and Accounts: mailbox contacts as Contacts (SPEC §6.2), the Leads, Contacts and
Accounts auto-resolve makes (SPEC §3.4), and the domain of an Account's Website."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rgsync.model import ContactItem, NewAccount, NewPerson, PersonKind, PostalAddress
from rgsync.providers.salesforce.mapping.values import TASK_DESCRIPTION_MAX, OrgShape, fit, key_value

_CONTACT_TEXT = {
    "first_name": ("FirstName", 40),
    "last_name": ("LastName", 80),
    "phone": ("Phone", 40),
    "mobile_phone": ("MobilePhone", 40),
    "title": ("Title", 128),
    "department": ("Department", 80),
}
_MAILING = {
    "street": "MailingStreet",
    "city": "MailingCity",
    "state": "MailingState",
    "postal_code": "MailingPostalCode",
    "country": "MailingCountry",
}


def _mailing(address: PostalAddress) -> dict[str, Any]:
    return {sf: (getattr(address, part) or None) for part, sf in _MAILING.items()}


def contact_create(
    contact: ContactItem, account_id: str | None, shape: OrgShape, natural_key: str
) -> dict[str, Any]:
    """A Contact from the mailbox's `Salesforce Contacts` folder (SPEC §6.2)."""
    record: dict[str, Any] = {"attributes": {"type": "Contact"}}
    for name, (sf, limit) in _CONTACT_TEXT.items():
        value = str(getattr(contact, name) or "")[:limit]
        if value:
            record[sf] = value
    if contact.email:
        record["Email"] = contact.email.strip()
    record.update({k: v for k, v in _mailing(contact.mailing).items() if v})
    if contact.notes:
        record["Description"] = fit(contact.notes, TASK_DESCRIPTION_MAX)
    if account_id:
        record["AccountId"] = account_id
    if contact.owner_id:
        record["OwnerId"] = contact.owner_id
    key_field = shape.key_field("Contact")
    if key_field:
        record[key_field] = key_value(natural_key)
    return record


def contact_update(changes: Mapping[str, object]) -> tuple[dict[str, Any], list[str]]:
    """Contact fields for `Update.changes` (ContactItem names; `company` is handled by the caller)."""
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for name, value in changes.items():
        if name in _CONTACT_TEXT:
            sf, limit = _CONTACT_TEXT[name]
            out[sf] = str(value or "")[:limit] or None
        elif name == "email":
            out["Email"] = str(value or "").strip() or None
        elif name == "mailing" and isinstance(value, PostalAddress):
            out.update(_mailing(value))
        elif name == "notes":
            out["Description"] = fit(str(value or ""), TASK_DESCRIPTION_MAX) or None
        elif name == "account_id":
            out["AccountId"] = value or None
        elif name == "owner_id":
            out["OwnerId"] = value
        elif name != "company":
            unknown.append(name)
    return out, unknown


def new_person(person: NewPerson) -> dict[str, Any]:
    """A Lead (with Company) or Contact (with AccountId) made by auto-resolve (SPEC §3.4)."""
    sobject = "Lead" if person.kind is PersonKind.LEAD else "Contact"
    record: dict[str, Any] = {
        "attributes": {"type": sobject},
        "LastName": person.last_name[:80],
        "Email": person.email,
    }
    if person.first_name:
        record["FirstName"] = person.first_name[:40]
    if person.kind is PersonKind.LEAD and person.company.strip():
        record["Company"] = person.company[:255]
    elif person.account_id:
        record["AccountId"] = person.account_id
    if person.owner_id:
        record["OwnerId"] = person.owner_id
    return record


def new_account(account: NewAccount) -> dict[str, Any]:
    """An Account made by auto-resolve, named after an email domain."""
    return {"attributes": {"type": "Account"}, "Name": account.name[:255], "Website": account.website[:255]}


def website_domain(website: str) -> str:
    """The bare host of a Website value: scheme, www., port, path and case removed."""
    host = website.strip().lower().split("//", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    return host[4:] if host.startswith("www.") else host
