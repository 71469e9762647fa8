"""The People methods the emulator answers (connections, contacts and their batch forms, search,
contact groups and their members), with the field masks each method requires."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rgsync.sandbox.google.common import (
    Call,
    Route,
    decode_token,
    encode_token,
    page_offset,
    route,
)
from rgsync.sandbox.google.people.fields import (
    DEFAULT_PAGE_SIZE,
    EXPIRED_MESSAGE,
    FIELD_MASK_HELP,
    MAX_BATCH_CREATE,
    MAX_BATCH_DELETE,
    MAX_BATCH_UPDATE,
    MAX_GROUP_CHANGES,
    MAX_PAGE_SIZE,
    READABLE_FIELDS,
    UPDATABLE_FIELDS,
    failed_precondition,
    invalid_argument,
    not_found_error,
)
from rgsync.sandbox.google.people.store import PeopleStore


def _mask(
    text: str | None, *, name: str, required: bool, allowed: Iterable[str] = READABLE_FIELDS
) -> list[str]:
    if not text:
        if required:
            raise invalid_argument(
                f"{name} mask is required. Please specify one or more valid paths. {FIELD_MASK_HELP}"
            )
        return list(allowed)
    fields = [part.strip() for part in text.split(",") if part.strip()]
    permitted = set(allowed)
    for field in fields:
        if field.removeprefix("person.") not in permitted:
            raise invalid_argument(f'Invalid {name} mask path: "{field}". {FIELD_MASK_HELP}')
    return [field.removeprefix("person.") for field in fields]


# --- routes -------------------------------------------------------------------------------------


def routes(store: PeopleStore) -> list[Route]:
    """The People methods the emulator answers, counted as 'people.<resource>.<method>'."""

    def connections(call: Call) -> Any:
        if call["person"] != "me":
            raise invalid_argument("resourceName must be people/me.")
        fields = _mask(call.param("personFields"), name="personFields", required=True)
        size = call.integer("pageSize", DEFAULT_PAGE_SIZE, minimum=0) or DEFAULT_PAGE_SIZE
        if size > MAX_PAGE_SIZE:
            raise invalid_argument("pageSize must be between 1 and 1000, inclusive.")
        since: int | None = None
        sync_token = call.param("syncToken")
        offset, page_state = page_offset(call, "pp.")
        if not sync_token and "n" in page_state:
            # A later page of an incremental listing, asked for with the pageToken alone.
            sync_token = encode_token("ps.", {"e": page_state.get("e"), "n": page_state["n"]})
        if sync_token:
            state = decode_token("ps.", sync_token, what="syncToken")
            if state.get("e") != store.token_epoch:
                raise failed_precondition(EXPIRED_MESSAGE, info_reason="EXPIRED_SYNC_TOKEN")
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
            raise invalid_argument(f"Invalid value at 'sort_order' ({order})")
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
            raise invalid_argument("contacts must not be empty.")
        if len(contacts) > MAX_BATCH_CREATE:
            raise invalid_argument(
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
            raise invalid_argument("contacts must not be empty.")
        if len(contacts) > MAX_BATCH_UPDATE:
            raise invalid_argument(
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
            raise invalid_argument("resourceNames must not be empty.")
        if len(names) > MAX_BATCH_DELETE:
            raise invalid_argument(
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
            raise not_found_error()
        return found

    def get_group(call: Call) -> Any:
        return store._group_view(group(call), call.integer("maxMembers", 0))

    def create_group(call: Call) -> Any:
        body = call.body().get("contactGroup")
        if not isinstance(body, dict):
            raise invalid_argument("contactGroup is required.")
        return store._group_view(store._create_group(body))

    def update_group(call: Call) -> Any:
        found = group(call)
        if found["groupType"] != "USER_CONTACT_GROUP":
            raise invalid_argument("System contact groups cannot be modified.")
        body = call.body().get("contactGroup") or {}
        name = str(body.get("name") or "").strip()
        if not name:
            raise invalid_argument("Contact group name must not be empty.")
        if body.get("etag") and body["etag"] != found["etag"]:
            raise failed_precondition(
                "Request contactGroup.etag is different than the current contactGroup.etag."
            )
        found["name"] = found["formattedName"] = name
        found["etag"] = store._etag("g")
        return store._group_view(found)

    def delete_group(call: Call) -> Any:
        found = group(call)
        if found["groupType"] != "USER_CONTACT_GROUP":
            raise invalid_argument("System contact groups cannot be deleted.")
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
            raise invalid_argument(f"Too many resource names: the limit is {MAX_GROUP_CHANGES}.")
        if (
            add
            and found["groupType"] == "SYSTEM_CONTACT_GROUP"
            and found["name"] not in ("myContacts", "starred")
        ):
            raise invalid_argument(f"Cannot add members to {found['resourceName']}.")
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
