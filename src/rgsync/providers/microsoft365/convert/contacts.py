"""Contacts: Outlook contacts as ContactItems, and the bodies of down-synced contacts and changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rgsync.model import ContactItem, PostalAddress
from rgsync.providers.microsoft365.convert.values import TAG_PROPERTY, parse_instant

CONTACT_FIELDS = (
    "id",
    "givenName",
    "surname",
    "emailAddresses",
    "businessPhones",
    "mobilePhone",
    "jobTitle",
    "department",
    "companyName",
    "businessAddress",
    "personalNotes",
    "lastModifiedDateTime",
)


def contact_from_graph(contact: Mapping[str, Any], salesforce_id: str | None) -> ContactItem:
    """An Outlook contact as a ContactItem (first email, first business phone, business address)."""
    emails = [str(e.get("address") or "") for e in contact.get("emailAddresses") or [] if e.get("address")]
    phones = [str(p) for p in contact.get("businessPhones") or [] if p]
    address = contact.get("businessAddress") or {}
    return ContactItem(
        id=str(contact["id"]),
        first_name=str(contact.get("givenName") or ""),
        last_name=str(contact.get("surname") or ""),
        email=emails[0].lower() if emails else "",
        phone=phones[0] if phones else "",
        mobile_phone=str(contact.get("mobilePhone") or ""),
        title=str(contact.get("jobTitle") or ""),
        department=str(contact.get("department") or ""),
        company=str(contact.get("companyName") or ""),
        mailing=PostalAddress(
            street=str(address.get("street") or ""),
            city=str(address.get("city") or ""),
            state=str(address.get("state") or ""),
            postal_code=str(address.get("postalCode") or ""),
            country=str(address.get("countryOrRegion") or ""),
        ),
        notes=str(contact.get("personalNotes") or ""),
        salesforce_id=salesforce_id,
        last_modified=parse_instant(contact.get("lastModifiedDateTime")),
    )


def _postal(value: PostalAddress) -> dict[str, str]:
    return {
        "street": value.street,
        "city": value.city,
        "state": value.state,
        "postalCode": value.postal_code,
        "countryOrRegion": value.country,
    }


def contact_body(item: ContactItem) -> dict[str, Any]:
    """The POST body of a down-synced contact, tagged with its Salesforce Id."""
    body: dict[str, Any] = {
        "givenName": item.first_name,
        "surname": item.last_name,
        "emailAddresses": [{"address": item.email, "name": item.email}] if item.email else [],
        "businessPhones": [item.phone] if item.phone else [],
        "mobilePhone": item.mobile_phone,
        "jobTitle": item.title,
        "department": item.department,
        "companyName": item.company,
        "businessAddress": _postal(item.mailing),
        "personalNotes": item.notes,
    }
    if item.salesforce_id:
        body["singleValueExtendedProperties"] = [{"id": TAG_PROPERTY, "value": item.salesforce_id}]
    return body


def contact_changes(changes: Mapping[str, object]) -> dict[str, Any]:
    """A PATCH body for changed ContactItem fields."""
    names = {
        "first_name": "givenName",
        "last_name": "surname",
        "mobile_phone": "mobilePhone",
        "title": "jobTitle",
        "department": "department",
        "company": "companyName",
        "notes": "personalNotes",
    }
    body: dict[str, Any] = {}
    for name, value in changes.items():
        if name in names:
            body[names[name]] = str(value)
        elif name == "email":
            body["emailAddresses"] = [{"address": str(value), "name": str(value)}] if value else []
        elif name == "phone":
            body["businessPhones"] = [str(value)] if value else []
        elif name == "mailing" and isinstance(value, PostalAddress):
            body["businessAddress"] = _postal(value)
    return body
