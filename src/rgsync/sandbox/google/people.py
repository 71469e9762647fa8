"""The People API v1 emulator: the user's contacts ("connections") and contact groups.

Reproduced for a sync client: personFields is required on reads; connections.list pages and hands
out a sync token (requestSyncToken) whose incremental listing includes deleted contacts with
`metadata.deleted: true`; `expire_sync_tokens()` makes old tokens fail with 400 FAILED_PRECONDITION /
EXPIRED_SYNC_TOKEN; updateContact checks the etag (optimistic concurrency) and replaces only the
fields named in updatePersonFields; batch methods keep Google's caps (200 create, 200 update,
500 delete); every contact is in contactGroups/myContacts.
"""

from __future__ import annotations

import base64
import copy
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rgsync.sandbox.google.common import (
    Call,
    GoogleApiError,
    Route,
    decode_token,
    encode_token,
    page_offset,
    rfc3339,
    route,
)

READABLE_FIELDS = (
    "addresses",
    "ageRanges",
    "biographies",
    "birthdays",
    "calendarUrls",
    "clientData",
    "coverPhotos",
    "emailAddresses",
    "events",
    "externalIds",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "metadata",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "photos",
    "relations",
    "sipAddresses",
    "skills",
    "urls",
    "userDefined",
)
UPDATABLE_FIELDS = frozenset(READABLE_FIELDS) - {"ageRanges", "coverPhotos", "metadata", "photos", "skills"}
PERSON_KEYS = frozenset(READABLE_FIELDS) | {
    "resourceName",
    "etag",
    "ageRange",
    "braggingRights",
    "fileAses",
    "relationshipInterests",
    "relationshipStatuses",
    "residences",
    "taglines",
}
SINGLETON_FIELDS = ("biographies", "birthdays", "genders", "names")
MAX_BATCH_CREATE = 200
MAX_BATCH_UPDATE = 200
MAX_BATCH_DELETE = 500
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_GROUP_CHANGES = 1000
SYSTEM_GROUPS = {
    "myContacts": "My Contacts",
    "starred": "Starred",
    "friends": "Friends",
    "family": "Family",
    "coworkers": "Coworkers",
}
FORMATTED_TYPES = {
    "home": "Home",
    "work": "Work",
    "mobile": "Mobile",
    "main": "Main",
    "other": "Other",
    "homeFax": "Home Fax",
    "workFax": "Work Fax",
    "otherFax": "Other Fax",
    "pager": "Pager",
    "workMobile": "Work Mobile",
    "workPager": "Work Pager",
    "googleVoice": "Google Voice",
}
FIELD_MASK_HELP = "Valid paths are documented at https://developers.google.com/people/api/rest/v1/people/get."
EXPIRED_MESSAGE = "Sync token is expired. Clear local cache and retry call without the sync token."


def _invalid(message: str) -> GoogleApiError:
    return GoogleApiError(400, "badRequest", message, status="INVALID_ARGUMENT")


def _failed_precondition(message: str, *, info_reason: str | None = None) -> GoogleApiError:
    details = None
    if info_reason is not None:
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": info_reason,
                "domain": "people.googleapis.com",
            }
        ]
    return GoogleApiError(400, "failedPrecondition", message, status="FAILED_PRECONDITION", details=details)


def _not_found() -> GoogleApiError:
    return GoogleApiError(404, "notFound", "Requested entity was not found.", status="NOT_FOUND")


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
            raise _not_found()
        return stored

    def _validate(self, person: Any) -> dict[str, Any]:
        if not isinstance(person, dict):
            raise _invalid("Invalid JSON payload received. 'person' must be an object.")
        for key in person:
            if key not in PERSON_KEYS:
                raise _invalid(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at 'person': Cannot find field."
                )
        for key in SINGLETON_FIELDS:
            if len(person.get(key) or []) > 1:
                raise _invalid(f"Invalid person: {key} can only have one value for contact sources.")
        for key, value in person.items():
            if key in READABLE_FIELDS and key != "metadata" and not isinstance(value, list):
                raise _invalid(f"Invalid JSON payload received. Expected a list for '{key}'.")
        return person

    def _decorate(self, person: dict[str, Any], source_id: str) -> None:
        """Fill in what Google derives: field metadata, display names, formatted types and values."""
        for key in READABLE_FIELDS:
            if key == "metadata" or key not in person:
                continue
            for index, item in enumerate(person[key]):
                if not isinstance(item, dict):
                    raise _invalid(f"Invalid JSON payload received. Expected an object in '{key}'.")
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
                raise _invalid(f"Invalid contact group: {resource}")
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
        raise _invalid(
            "Request must set person.etag or person.metadata.sources.etag for the source that is being updated."
        )

    @staticmethod
    def _stale() -> GoogleApiError:
        return _failed_precondition(
            "Request person.etag is different than the current person.etag. Clear local cache and get the latest person."
        )

    def _update(self, resource_name: str, body: dict[str, Any], mask: list[str]) -> dict[str, Any]:
        stored = self._person(resource_name)
        self._validate(body)
        if body.get("resourceName") and body["resourceName"] != resource_name:
            raise _invalid("person.resourceName does not match the resource name in the request.")
        self._check_etag(stored, body)
        if "memberships" in mask and not body.get("memberships"):
            raise _invalid("Invalid memberships: a contact needs at least one contact group membership.")
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
            raise _invalid("Contact group name must not be empty.")
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


def _mask(
    text: str | None, *, name: str, required: bool, allowed: Iterable[str] = READABLE_FIELDS
) -> list[str]:
    if not text:
        if required:
            raise _invalid(
                f"{name} mask is required. Please specify one or more valid paths. {FIELD_MASK_HELP}"
            )
        return list(allowed)
    fields = [part.strip() for part in text.split(",") if part.strip()]
    permitted = set(allowed)
    for field in fields:
        if field.removeprefix("person.") not in permitted:
            raise _invalid(f'Invalid {name} mask path: "{field}". {FIELD_MASK_HELP}')
    return [field.removeprefix("person.") for field in fields]


# --- routes -------------------------------------------------------------------------------------


def routes(store: PeopleStore) -> list[Route]:
    """The People methods the emulator answers, counted as 'people.<resource>.<method>'."""

    def connections(call: Call) -> Any:
        if call["person"] != "me":
            raise _invalid("resourceName must be people/me.")
        fields = _mask(call.param("personFields"), name="personFields", required=True)
        size = call.integer("pageSize", DEFAULT_PAGE_SIZE, minimum=0) or DEFAULT_PAGE_SIZE
        if size > MAX_PAGE_SIZE:
            raise _invalid("pageSize must be between 1 and 1000, inclusive.")
        since: int | None = None
        sync_token = call.param("syncToken")
        offset, page_state = page_offset(call, "pp.")
        if not sync_token and "n" in page_state:
            # A later page of an incremental listing, asked for with the pageToken alone.
            sync_token = encode_token("ps.", {"e": page_state.get("e"), "n": page_state["n"]})
        if sync_token:
            state = decode_token("ps.", sync_token, what="syncToken")
            if state.get("e") != store.token_epoch:
                raise _failed_precondition(EXPIRED_MESSAGE, info_reason="EXPIRED_SYNC_TOKEN")
            since = int(state["n"])
        snapshot = int(page_state.get("s", store.change_number))
        people = list(store.people.values())
        if since is None:
            people = [p for p in people if not p.deleted]
        else:
            people = [p for p in people if p.changed > since]
        order = call.param("sortOrder") or "LAST_MODIFIED_ASCENDING"
        if order == "LAST_MODIFIED_DESCENDING":
            people.sort(key=lambda p: p.changed, reverse=True)
        elif order in ("FIRST_NAME_ASCENDING", "LAST_NAME_ASCENDING"):
            key = "givenName" if order == "FIRST_NAME_ASCENDING" else "familyName"
            people.sort(key=lambda p: str((p.resource.get("names") or [{}])[0].get(key, "")).lower())
        elif order == "LAST_MODIFIED_ASCENDING":
            people.sort(key=lambda p: p.changed)
        else:
            raise _invalid(f"Invalid value at 'sort_order' ({order})")
        page = people[offset : offset + size]
        result: dict[str, Any] = {}
        if page:
            result["connections"] = [
                store._deleted_view(p.resource) if p.deleted else store._view(p.resource, fields)
                for p in page
            ]
        if offset + size < len(people):
            page_token: dict[str, Any] = {"o": offset + size, "s": snapshot}
            if since is not None:
                page_token.update(e=store.token_epoch, n=since)
            result["nextPageToken"] = encode_token("pp.", page_token)
        elif call.flag("requestSyncToken"):
            result["nextSyncToken"] = encode_token("ps.", {"e": store.token_epoch, "n": snapshot})
        result["totalPeople"] = len(people)
        result["totalItems"] = len(people)
        return result

    def get_person(call: Call) -> Any:
        fields = _mask(call.param("personFields"), name="personFields", required=True)
        return store._view(store._person(f"people/{call['person']}").resource, fields)

    def batch_get(call: Call) -> Any:
        fields = _mask(call.param("personFields"), name="personFields", required=True)
        responses = []
        for name in call.params("resourceNames"):
            stored = store.people.get(name)
            if stored is None or stored.deleted:
                responses.append(
                    {"requestedResourceName": name, "httpStatusCode": 404, "status": {"code": 5}}
                )
            else:
                responses.append(
                    {
                        "requestedResourceName": name,
                        "httpStatusCode": 200,
                        "person": store._view(stored.resource, fields),
                    }
                )
        return {"responses": responses}

    def create_contact(call: Call) -> Any:
        fields = _mask(call.param("personFields"), name="personFields", required=False)
        return store._view(store._create(call.body()), fields)

    def batch_create(call: Call) -> Any:
        body = call.body()
        fields = _mask(body.get("readMask"), name="readMask", required=True)
        contacts = body.get("contacts") or []
        if not contacts:
            raise _invalid("contacts must not be empty.")
        if len(contacts) > MAX_BATCH_CREATE:
            raise _invalid(
                f"Too many contacts in a single request: {len(contacts)}, the limit is {MAX_BATCH_CREATE}."
            )
        for contact in contacts:
            store._validate((contact or {}).get("contactPerson"))
        created = [store._create(contact["contactPerson"]) for contact in contacts]
        return {"createdPeople": [{"httpStatusCode": 200, "person": store._view(p, fields)} for p in created]}

    def update_contact(call: Call) -> Any:
        mask = _mask(
            call.param("updatePersonFields"),
            name="updatePersonFields",
            required=True,
            allowed=UPDATABLE_FIELDS,
        )
        fields = _mask(call.param("personFields"), name="personFields", required=False)
        return store._view(store._update(f"people/{call['person']}", call.body(), mask), fields)

    def batch_update(call: Call) -> Any:
        body = call.body()
        fields = _mask(body.get("readMask"), name="readMask", required=True)
        mask = _mask(body.get("updateMask"), name="updateMask", required=True, allowed=UPDATABLE_FIELDS)
        contacts = body.get("contacts") or {}
        if not isinstance(contacts, dict) or not contacts:
            raise _invalid("contacts must not be empty.")
        if len(contacts) > MAX_BATCH_UPDATE:
            raise _invalid(
                f"Too many contacts in a single request: {len(contacts)}, the limit is {MAX_BATCH_UPDATE}."
            )
        # All or nothing: every contact is checked before any is written.
        for name, person in contacts.items():
            store._check_etag(store._person(name), store._validate(person))
        result = {name: store._update(name, person, mask) for name, person in contacts.items()}
        return {
            "updateResult": {
                name: {"httpStatusCode": 200, "person": store._view(p, fields)} for name, p in result.items()
            }
        }

    def delete_contact(call: Call) -> Any:
        store._delete(f"people/{call['person']}")
        return {}

    def batch_delete(call: Call) -> Any:
        names = [str(n) for n in call.body().get("resourceNames") or []]
        if not names:
            raise _invalid("resourceNames must not be empty.")
        if len(names) > MAX_BATCH_DELETE:
            raise _invalid(
                f"Too many resource names in a single request: {len(names)}, the limit is {MAX_BATCH_DELETE}."
            )
        for name in names:
            store._person(name)
        for name in names:
            store._delete(name)
        return {}

    def search_contacts(call: Call) -> Any:
        fields = _mask(call.param("readMask"), name="readMask", required=True)
        query = (call.param("query") or "").strip().lower()
        size = min(call.integer("pageSize", 10, minimum=0) or 10, 30)
        found = []
        for stored in store.people.values():
            if stored.deleted or not query:
                continue
            person = stored.resource
            words = [str(n.get("displayName", "")) for n in person.get("names", [])]
            words += [str(e.get("value", "")) for e in person.get("emailAddresses", [])]
            words += [str(p.get("value", "")) for p in person.get("phoneNumbers", [])]
            if any(part.lower().startswith(query) for word in words for part in [word, *word.split()]):
                found.append({"person": store._view(person, fields)})
        return {"results": found[:size]} if found else {}

    def list_groups(call: Call) -> Any:
        groups = [store._group_view(g) for g in store.groups.values()]
        size = call.integer("pageSize", 30, minimum=0) or 30
        offset, _ = page_offset(call, "pg.")
        result: dict[str, Any] = {"contactGroups": groups[offset : offset + size], "totalItems": len(groups)}
        if offset + size < len(groups):
            result["nextPageToken"] = encode_token("pg.", {"o": offset + size})
        return result

    def group(call: Call) -> dict[str, Any]:
        found = store.groups.get(f"contactGroups/{call['group']}")
        if found is None:
            raise _not_found()
        return found

    def get_group(call: Call) -> Any:
        return store._group_view(group(call), call.integer("maxMembers", 0))

    def create_group(call: Call) -> Any:
        body = call.body().get("contactGroup")
        if not isinstance(body, dict):
            raise _invalid("contactGroup is required.")
        return store._group_view(store._create_group(body))

    def update_group(call: Call) -> Any:
        found = group(call)
        if found["groupType"] != "USER_CONTACT_GROUP":
            raise _invalid("System contact groups cannot be modified.")
        body = call.body().get("contactGroup") or {}
        name = str(body.get("name") or "").strip()
        if not name:
            raise _invalid("Contact group name must not be empty.")
        if body.get("etag") and body["etag"] != found["etag"]:
            raise _failed_precondition(
                "Request contactGroup.etag is different than the current contactGroup.etag."
            )
        found["name"] = found["formattedName"] = name
        found["etag"] = store._etag("g")
        return store._group_view(found)

    def delete_group(call: Call) -> Any:
        found = group(call)
        if found["groupType"] != "USER_CONTACT_GROUP":
            raise _invalid("System contact groups cannot be deleted.")
        for name, stored in list(store.people.items()):
            if stored.deleted:
                continue
            in_group = any(
                m.get("contactGroupMembership", {}).get("contactGroupResourceName") == found["resourceName"]
                for m in stored.resource.get("memberships", [])
            )
            if in_group:
                if call.flag("deleteContacts"):
                    store._delete(name)
                else:
                    store._set_membership(stored, found["resourceName"], False)
        del store.groups[found["resourceName"]]
        return {}

    def modify_members(call: Call) -> Any:
        found = group(call)
        body = call.body()
        add = [str(n) for n in body.get("resourceNamesToAdd") or []]
        remove = [str(n) for n in body.get("resourceNamesToRemove") or []]
        if len(add) + len(remove) > MAX_GROUP_CHANGES:
            raise _invalid(f"Too many resource names: the limit is {MAX_GROUP_CHANGES}.")
        if (
            add
            and found["groupType"] == "SYSTEM_CONTACT_GROUP"
            and found["name"] not in ("myContacts", "starred")
        ):
            raise _invalid(f"Cannot add members to {found['resourceName']}.")
        not_found: list[str] = []
        last_group: list[str] = []
        for name in add:
            stored = store.people.get(name)
            if stored is None or stored.deleted:
                not_found.append(name)
            else:
                store._set_membership(stored, found["resourceName"], True)
        for name in remove:
            stored = store.people.get(name)
            if stored is None or stored.deleted:
                not_found.append(name)
                continue
            groups = [m for m in stored.resource.get("memberships", []) if "contactGroupMembership" in m]
            if len(groups) <= 1:
                last_group.append(name)
                continue
            store._set_membership(stored, found["resourceName"], False)
        result: dict[str, Any] = {}
        if not_found:
            result["notFoundResourceNames"] = not_found
        if last_group:
            result["canNotRemoveLastContactGroupResourceNames"] = last_group
        return result

    return [
        route("GET", "/v1/people/{person}/connections", "people.connections.list", connections),
        route("POST", "/v1/people:createContact", "people.createContact", create_contact),
        route("POST", "/v1/people:batchCreateContacts", "people.batchCreateContacts", batch_create),
        route("POST", "/v1/people:batchUpdateContacts", "people.batchUpdateContacts", batch_update),
        route("POST", "/v1/people:batchDeleteContacts", "people.batchDeleteContacts", batch_delete),
        route("GET", "/v1/people:batchGet", "people.getBatchGet", batch_get),
        route("GET", "/v1/people:searchContacts", "people.searchContacts", search_contacts),
        route("PATCH", "/v1/people/{person}:updateContact", "people.updateContact", update_contact),
        route("DELETE", "/v1/people/{person}:deleteContact", "people.deleteContact", delete_contact),
        route("GET", "/v1/people/{person}", "people.get", get_person),
        route("GET", "/v1/contactGroups", "people.contactGroups.list", list_groups),
        route("POST", "/v1/contactGroups", "people.contactGroups.create", create_group),
        route(
            "POST",
            "/v1/contactGroups/{group}/members:modify",
            "people.contactGroups.members.modify",
            modify_members,
        ),
        route("GET", "/v1/contactGroups/{group}", "people.contactGroups.get", get_group),
        route("PUT", "/v1/contactGroups/{group}", "people.contactGroups.update", update_group),
        route("DELETE", "/v1/contactGroups/{group}", "people.contactGroups.delete", delete_group),
    ]
