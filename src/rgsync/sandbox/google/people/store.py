"""The contacts and contact groups behind the People emulator: the setup helpers tests use,
validation, the fields Google derives (metadata, display names, formatted values), etags, and the
change numbers incremental sync reads."""

from __future__ import annotations

import base64
import copy
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rgsync.sandbox.google.common import GoogleApiError, rfc3339
from rgsync.sandbox.google.people.fields import (
    FORMATTED_TYPES,
    PERSON_KEYS,
    READABLE_FIELDS,
    SINGLETON_FIELDS,
    SYSTEM_GROUPS,
    failed_precondition,
    invalid_argument,
    not_found_error,
)


@dataclass
class StoredPerson:
    """A contact, its change number and whether it has been deleted (kept for sync)."""

    resource: dict[str, Any]
    changed: int
    deleted: bool = False


class PeopleStore:
    """The contacts behind the People emulator. Public methods are the Python setup helpers tests use."""

    def __init__(self, address: str, clock: Callable[[], datetime], lock: threading.RLock) -> None:
        self.address = address
        self.clock = clock
        self.lock = lock
        self.people: dict[str, StoredPerson] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.change_number = 0
        self.token_epoch = 1
        self._counter = 0
        for group_id, formatted in SYSTEM_GROUPS.items():
            self.groups[f"contactGroups/{group_id}"] = {
                "resourceName": f"contactGroups/{group_id}",
                "etag": self._etag("g"),
                "metadata": {"updateTime": rfc3339(clock())},
                "groupType": "SYSTEM_CONTACT_GROUP",
                "name": group_id,
                "formattedName": formatted,
            }

    # --- setup helpers ---------------------------------------------------------------------------

    def add_contact(self, person: dict[str, Any]) -> str:
        """Store a contact given as People API JSON and return its resource name ('people/c…')."""
        with self.lock:
            return str(self._create(person)["resourceName"])

    def update_contact(self, resource_name: str, changes: dict[str, Any]) -> None:
        """Replace the given fields of a contact as if edited in another client (new etag)."""
        with self.lock:
            stored = self._person(resource_name)
            self._write(stored, self._validate(changes), list(changes))

    def delete_contact(self, resource_name: str) -> None:
        """Delete a contact as if deleted in another client (seen by sync as metadata.deleted)."""
        with self.lock:
            self._delete(resource_name)

    def get_contact(self, resource_name: str) -> dict[str, Any]:
        """A copy of a stored contact with every field (KeyError when unknown or deleted)."""
        with self.lock:
            stored = self.people[resource_name]
            if stored.deleted:
                raise KeyError(resource_name)
            return copy.deepcopy(stored.resource)

    def add_contact_group(self, name: str) -> str:
        """Create a user contact group and return its resource name."""
        with self.lock:
            return str(self._create_group({"name": name})["resourceName"])

    def expire_sync_tokens(self) -> None:
        """Make every sync token handed out so far fail with EXPIRED_SYNC_TOKEN."""
        with self.lock:
            self.token_epoch += 1

    # --- internals -------------------------------------------------------------------------------

    def _etag(self, prefix: str) -> str:
        self._counter += 1
        marker = {"p": "%", "s": "#", "g": ""}[prefix]
        return marker + base64.b64encode(f"{prefix}{self._counter:08d}".encode()).decode("ascii")

    def _person(self, resource_name: str) -> StoredPerson:
        stored = self.people.get(resource_name)
        if stored is None or stored.deleted:
            raise not_found_error()
        return stored

    def _validate(self, person: Any) -> dict[str, Any]:
        if not isinstance(person, dict):
            raise invalid_argument("Invalid JSON payload received. 'person' must be an object.")
        for key in person:
            if key not in PERSON_KEYS:
                raise invalid_argument(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at 'person': Cannot find field."
                )
        for key in SINGLETON_FIELDS:
            if len(person.get(key) or []) > 1:
                raise invalid_argument(f"Invalid person: {key} can only have one value for contact sources.")
        for key, value in person.items():
            if key in READABLE_FIELDS and key != "metadata" and not isinstance(value, list):
                raise invalid_argument(f"Invalid JSON payload received. Expected a list for '{key}'.")
        return person

    def _decorate(self, person: dict[str, Any], source_id: str) -> None:
        """Fill in what Google derives: field metadata, display names, formatted types and values."""
        for key in READABLE_FIELDS:
            if key == "metadata" or key not in person:
                continue
            for index, item in enumerate(person[key]):
                if not isinstance(item, dict):
                    raise invalid_argument(f"Invalid JSON payload received. Expected an object in '{key}'.")
                meta: dict[str, Any] = {"source": {"type": "CONTACT", "id": source_id}}
                if key not in ("memberships", "clientData"):
                    meta["primary"] = index == 0
                item["metadata"] = meta
                kind = item.get("type")
                if kind and key in ("emailAddresses", "phoneNumbers", "addresses", "organizations", "urls"):
                    item["formattedType"] = FORMATTED_TYPES.get(str(kind), str(kind))
        for name in person.get("names", []):
            given, middle, family = (
                str(name.get(k, "")).strip() for k in ("givenName", "middleName", "familyName")
            )
            display = " ".join(
                p for p in (name.get("honorificPrefix", ""), given, middle, family) if p
            ).strip()
            display = display or str(name.get("unstructuredName", "")).strip()
            name.setdefault("displayName", display)
            last_first = (
                f"{family}, {' '.join(p for p in (given, middle) if p)}".strip(", ") if family else display
            )
            name.setdefault("displayNameLastFirst", last_first)
            name.setdefault("unstructuredName", name["displayName"])
        for phone in person.get("phoneNumbers", []):
            value = str(phone.get("value", ""))
            digits = "".join(ch for ch in value if ch.isdigit())
            if value.strip().startswith("+") and digits:
                phone["canonicalForm"] = "+" + digits
        for address in person.get("addresses", []):
            if "formattedValue" not in address:
                city_line = " ".join(
                    p
                    for p in (
                        address.get("city", ""),
                        address.get("region", ""),
                        address.get("postalCode", ""),
                    )
                    if p
                )
                lines = [
                    address.get("streetAddress", ""),
                    address.get("extendedAddress", ""),
                    city_line,
                    address.get("country", ""),
                ]
                address["formattedValue"] = "\n".join(str(line) for line in lines if line)
        for membership in person.get("memberships", []):
            group = membership.get("contactGroupMembership")
            if not isinstance(group, dict):
                continue
            resource = (
                group.get("contactGroupResourceName") or f"contactGroups/{group.get('contactGroupId', '')}"
            )
            if resource not in self.groups:
                raise invalid_argument(f"Invalid contact group: {resource}")
            group["contactGroupResourceName"] = resource
            group["contactGroupId"] = resource.split("/", 1)[1]

    def _memberships(self, person: dict[str, Any]) -> None:
        groups = [
            m.get("contactGroupMembership", {}).get("contactGroupResourceName")
            for m in person.get("memberships", [])
        ]
        if "contactGroups/myContacts" not in groups:
            person.setdefault("memberships", []).append(
                {"contactGroupMembership": {"contactGroupResourceName": "contactGroups/myContacts"}}
            )

    def _stamp(self, person: dict[str, Any], source_id: str) -> None:
        person["etag"] = self._etag("p")
        person["metadata"] = {
            "sources": [
                {
                    "type": "CONTACT",
                    "id": source_id,
                    "etag": self._etag("s"),
                    "updateTime": rfc3339(self.clock()),
                }
            ],
            "objectType": "PERSON",
        }

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        person = copy.deepcopy(self._validate(body))
        self._counter += 1
        number = 7_300_000_000_000_000_000 + self._counter * 7919
        source_id = f"{number:x}"
        resource_name = f"people/c{number}"
        person.pop("etag", None)
        person.pop("metadata", None)
        person["resourceName"] = resource_name
        self._memberships(person)
        self._decorate(person, source_id)
        self._stamp(person, source_id)
        self.change_number += 1
        self.people[resource_name] = StoredPerson(person, self.change_number)
        return person

    def _write(self, stored: StoredPerson, body: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        person = stored.resource
        source_id = person["metadata"]["sources"][0]["id"]
        for field in fields:
            if body.get(field):
                person[field] = copy.deepcopy(body[field])
            else:
                person.pop(field, None)
        self._decorate(person, source_id)
        self._stamp(person, source_id)
        self.change_number += 1
        stored.changed = self.change_number
        return person

    def _delete(self, resource_name: str) -> None:
        stored = self._person(resource_name)
        source_id = stored.resource["metadata"]["sources"][0]["id"]
        stored.deleted = True
        self._stamp(stored.resource, source_id)
        self.change_number += 1
        stored.changed = self.change_number

    def _check_etag(self, stored: StoredPerson, body: dict[str, Any]) -> None:
        current = stored.resource
        sources = [
            s
            for s in (body.get("metadata") or {}).get("sources", [])
            if s.get("type", "CONTACT") == "CONTACT"
        ]
        source_etag = sources[0].get("etag") if sources else None
        if source_etag:
            if source_etag != current["metadata"]["sources"][0]["etag"]:
                raise self._stale()
            return
        if body.get("etag"):
            if body["etag"] != current["etag"]:
                raise self._stale()
            return
        raise invalid_argument(
            "Request must set person.etag or person.metadata.sources.etag for the source that is being updated."
        )

    @staticmethod
    def _stale() -> GoogleApiError:
        return failed_precondition(
            "Request person.etag is different than the current person.etag. Clear local cache and get the latest person."
        )

    def _update(self, resource_name: str, body: dict[str, Any], mask: list[str]) -> dict[str, Any]:
        stored = self._person(resource_name)
        self._validate(body)
        if body.get("resourceName") and body["resourceName"] != resource_name:
            raise invalid_argument("person.resourceName does not match the resource name in the request.")
        self._check_etag(stored, body)
        if "memberships" in mask and not body.get("memberships"):
            raise invalid_argument(
                "Invalid memberships: a contact needs at least one contact group membership."
            )
        return self._write(stored, body, mask)

    def _view(self, person: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        view: dict[str, Any] = {"resourceName": person["resourceName"], "etag": person["etag"]}
        for field in fields:
            if field in person:
                view[field] = copy.deepcopy(person[field])
        return view

    def _deleted_view(self, person: dict[str, Any]) -> dict[str, Any]:
        metadata = copy.deepcopy(person["metadata"])
        metadata["deleted"] = True
        return {"resourceName": person["resourceName"], "etag": person["etag"], "metadata": metadata}

    def _group_view(self, group: dict[str, Any], max_members: int = 0) -> dict[str, Any]:
        view = copy.deepcopy(group)
        members = [
            name
            for name, stored in self.people.items()
            if not stored.deleted
            and any(
                m.get("contactGroupMembership", {}).get("contactGroupResourceName") == group["resourceName"]
                for m in stored.resource.get("memberships", [])
            )
        ]
        view["memberCount"] = len(members)
        if max_members:
            view["memberResourceNames"] = members[:max_members]
        return view

    def _create_group(self, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name") or "").strip()
        if not name:
            raise invalid_argument("Contact group name must not be empty.")
        for group in self.groups.values():
            if (
                str(group["name"]).lower() == name.lower()
                or str(group.get("formattedName", "")).lower() == name.lower()
            ):
                raise GoogleApiError(
                    409, "alreadyExists", "Contact group name already exists.", status="ALREADY_EXISTS"
                )
        self._counter += 1
        resource_name = f"contactGroups/{(0x5A3C00000000 + self._counter * 977):x}"
        group = {
            "resourceName": resource_name,
            "etag": self._etag("g"),
            "metadata": {"updateTime": rfc3339(self.clock())},
            "groupType": "USER_CONTACT_GROUP",
            "name": name,
            "formattedName": name,
        }
        if isinstance(body.get("clientData"), list):
            group["clientData"] = copy.deepcopy(body["clientData"])
        self.groups[resource_name] = group
        return group

    def _set_membership(self, stored: StoredPerson, group: str, present: bool) -> None:
        memberships = [
            m
            for m in stored.resource.get("memberships", [])
            if m.get("contactGroupMembership", {}).get("contactGroupResourceName") != group
        ]
        if present:
            memberships.append({"contactGroupMembership": {"contactGroupResourceName": group}})
        self._write(stored, {"memberships": memberships}, ["memberships"])
