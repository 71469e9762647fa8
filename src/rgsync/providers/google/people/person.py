"""People resources ↔ ContactItem: reading a person, rebuilding the People fields a change
touches (entries rgsync does not manage are kept), a new contact's body, and the origin tag
(the clientData entry `rgsync_salesforce_id`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rgsync.model import ContactItem, PostalAddress

TAG = "rgsync_salesforce_id"
PERSON_FIELDS = (
    "names,emailAddresses,phoneNumbers,organizations,addresses,biographies,memberships,clientData,metadata"
)
# Which People fields each ContactItem field lives in (the update mask of a change).
PERSON_FIELD = {
    "first_name": "names",
    "last_name": "names",
    "email": "emailAddresses",
    "phone": "phoneNumbers",
    "mobile_phone": "phoneNumbers",
    "title": "organizations",
    "department": "organizations",
    "company": "organizations",
    "mailing": "addresses",
    "notes": "biographies",
    "salesforce_id": "clientData",
}
# Output-only parts of People field entries; sending them back is pointless or refused.
_OUTPUT_ONLY = (
    "metadata",
    "formattedType",
    "canonicalForm",
    "displayName",
    "displayNameLastFirst",
    "unstructuredName",
)


def _first(entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The primary entry of a People field, else the first, else an empty one."""
    for entry in entries:
        if (entry.get("metadata") or {}).get("primary"):
            return entry
    return entries[0] if entries else {}


def clean_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in _OUTPUT_ONLY}


def _is_mobile(entry: Mapping[str, Any]) -> bool:
    return str(entry.get("type") or "").lower() == "mobile"


def groups_of(person: Mapping[str, Any]) -> set[str]:
    return {
        str((m.get("contactGroupMembership") or {}).get("contactGroupResourceName"))
        for m in person.get("memberships") or ()
        if m.get("contactGroupMembership")
    }


class PersonFields:
    """Conversions between People resources and ContactItems; a base of `GooglePeople`."""

    @staticmethod
    def to_item(person: Mapping[str, Any]) -> ContactItem:
        """A People resource as a `ContactItem`."""
        name = _first(person.get("names") or [])
        email = _first(person.get("emailAddresses") or [])
        phones = person.get("phoneNumbers") or []
        mobile: Mapping[str, Any] = next((p for p in phones if _is_mobile(p)), {})
        others = [p for p in phones if not _is_mobile(p)]
        phone = next(
            (p for p in others if str(p.get("type") or "").lower() == "work"), others[0] if others else {}
        )
        organization = _first(person.get("organizations") or [])
        address = _first(person.get("addresses") or [])
        notes = _first(person.get("biographies") or [])
        tag = next(
            (
                str(d.get("value"))
                for d in person.get("clientData") or ()
                if d.get("key") == TAG and d.get("value")
            ),
            None,
        )
        updated = None
        for source in (person.get("metadata") or {}).get("sources") or ():
            if source.get("updateTime"):
                updated = datetime.fromisoformat(str(source["updateTime"]).replace("Z", "+00:00"))
                break
        return ContactItem(
            id=str(person["resourceName"]),
            first_name=str(name.get("givenName") or ""),
            last_name=str(name.get("familyName") or ""),
            email=str(email.get("value") or "").lower(),
            phone=str(phone.get("value") or ""),
            mobile_phone=str(mobile.get("value") or ""),
            title=str(organization.get("title") or ""),
            department=str(organization.get("department") or ""),
            company=str(organization.get("name") or ""),
            mailing=PostalAddress(
                street=str(address.get("streetAddress") or ""),
                city=str(address.get("city") or ""),
                state=str(address.get("region") or ""),
                postal_code=str(address.get("postalCode") or ""),
                country=str(address.get("country") or ""),
            ),
            notes=str(notes.get("value") or ""),
            salesforce_id=tag,
            last_modified=updated,
        )

    @staticmethod
    def merge(person: Mapping[str, Any], changes: Mapping[str, object]) -> dict[str, list[dict[str, Any]]]:
        """The People fields touched by `changes`, rebuilt from `person` with the changes applied.

        Entries rgsync does not manage (a second email, a home phone, a home address) are kept.
        """
        touched = {PERSON_FIELD[k] for k in changes if k in PERSON_FIELD}
        out: dict[str, list[dict[str, Any]]] = {}

        def value(key: str) -> str:
            return str(changes.get(key) or "")

        def entries(field: str) -> list[dict[str, Any]]:
            return [clean_entry(e) for e in person.get(field) or []]

        if "names" in touched:
            names = entries("names") or [{}]
            if "first_name" in changes:
                names[0]["givenName"] = value("first_name")
            if "last_name" in changes:
                names[0]["familyName"] = value("last_name")
            out["names"] = names
        if "emailAddresses" in touched:
            emails = entries("emailAddresses")
            if value("email"):
                if emails:
                    emails[0]["value"] = value("email")
                else:
                    emails = [{"value": value("email"), "type": "work"}]
            else:
                emails = emails[1:]
            out["emailAddresses"] = emails
        if "phoneNumbers" in touched:
            phones = entries("phoneNumbers")
            for key, mobile in (("mobile_phone", True), ("phone", False)):
                if key not in changes:
                    continue
                index = next((i for i, p in enumerate(phones) if _is_mobile(p) == mobile), None)
                if value(key) and index is not None:
                    phones[index]["value"] = value(key)
                elif value(key):
                    phones.append({"value": value(key), "type": "mobile" if mobile else "work"})
                elif index is not None:
                    del phones[index]
            out["phoneNumbers"] = phones
        if "organizations" in touched:
            organizations = entries("organizations") or [{}]
            for key, target in (("company", "name"), ("title", "title"), ("department", "department")):
                if key in changes:
                    organizations[0][target] = value(key)
            out["organizations"] = organizations
        if "addresses" in touched:
            addresses = entries("addresses") or [{"type": "work"}]
            mailing = changes.get("mailing")
            if isinstance(mailing, PostalAddress):
                addresses[0].update(
                    streetAddress=mailing.street,
                    city=mailing.city,
                    region=mailing.state,
                    postalCode=mailing.postal_code,
                    country=mailing.country,
                )
                addresses[0].pop("formattedValue", None)  # Google rebuilds it from the parts
                if not any(
                    (mailing.street, mailing.city, mailing.state, mailing.postal_code, mailing.country)
                ):
                    addresses = addresses[1:]
            out["addresses"] = addresses
        if "biographies" in touched:
            out["biographies"] = (
                [{"value": value("notes"), "contentType": "TEXT_PLAIN"}] if value("notes") else []
            )
        if "clientData" in touched:
            data = [d for d in entries("clientData") if d.get("key") != TAG]
            if value("salesforce_id"):
                data.append({"key": TAG, "value": value("salesforce_id")})
            out["clientData"] = data
        return out

    @classmethod
    def body_for(cls, item: ContactItem) -> dict[str, Any]:
        """The People resource of a new contact (Salesforce-origin tag included)."""
        changes: dict[str, object] = {
            "first_name": item.first_name,
            "last_name": item.last_name,
            "email": item.email,
            "phone": item.phone,
            "mobile_phone": item.mobile_phone,
            "title": item.title,
            "department": item.department,
            "company": item.company,
            "mailing": item.mailing,
            "notes": item.notes,
            "salesforce_id": item.salesforce_id or "",
        }
        return {k: v for k, v in cls.merge({}, changes).items() if v and any(any(e.values()) for e in v)}
