"""The contacts stream over the People API: the contact group `Salesforce Contacts` (SPEC §6).

The group is found by name (contactGroups.list) and created when missing; its resource name rides
in the cursor with the sync token, so an idle session costs one call. Changes are read with
people.connections.list and a sync token; only members of the group are contacts of this stream:
a changed contact outside the group is reported as deleted from it (it left the folder, or was
never in it: the session ignores ids it never linked). Google drops sync tokens after seven days
(EXPIRED_SYNC_TOKEN): full listing with `reset`.

The origin tag is the clientData entry `rgsync_salesforce_id`. Writes follow Google's advice for
one user's contacts: mutations are sent one after the other, never in parallel —
batchCreateContacts (≤ 200) then contactGroups.members.modify to put the new contacts in the
group, batchUpdateContacts (≤ 200) with etags from a fresh people.getBatchGet, and
batchDeleteContacts (≤ 500).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from rgsync.model import ContactItem, Create, Delete, Page, PostalAddress, Update, Write, WriteResult
from rgsync.providers.base import ItemError
from rgsync.providers.google.api import GoogleApi, chunks

TAG = "rgsync_salesforce_id"
PERSON_FIELDS = (
    "names,emailAddresses,phoneNumbers,organizations,addresses,biographies,memberships,clientData,metadata"
)
CREATE_LIMIT = 200
UPDATE_LIMIT = 200
DELETE_LIMIT = 500
GET_LIMIT = 200
MEMBERS_LIMIT = 1000
PAGE_SIZE = 1000
# Which People fields each ContactItem field lives in (the update mask of a change).
_PERSON_FIELD = {
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


def _clean(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in _OUTPUT_ONLY}


def _is_mobile(entry: Mapping[str, Any]) -> bool:
    return str(entry.get("type") or "").lower() == "mobile"


class GooglePeople:
    """The `Salesforce Contacts` group (see the module docstring)."""

    def __init__(self, api: GoogleApi, *, group_name: str) -> None:
        self.api = api
        self.group_name = group_name
        self._group: str | None = None

    @property
    def _people(self) -> Any:
        return self.api.service("people").people()

    @property
    def _groups(self) -> Any:
        return self.api.service("people").contactGroups()

    # -- the group ------------------------------------------------------------------------------
    def group(self) -> str:
        """The resource name of the `Salesforce Contacts` group, created when missing."""
        if self._group is None:
            token: str | None = None
            found: str | None = None
            while found is None:
                response = self.api.execute(
                    self._groups.list(pageSize=1000, pageToken=token), "the contact groups"
                )
                for entry in response.get("contactGroups", []):
                    name = str(entry.get("name") or entry.get("formattedName") or "")
                    if (
                        entry.get("groupType", "USER_CONTACT_GROUP") == "USER_CONTACT_GROUP"
                        and name.strip().lower() == self.group_name.strip().lower()
                    ):
                        found = str(entry["resourceName"])
                        break
                token = response.get("nextPageToken")
                if not token:
                    break
            if found is None:
                body = {"contactGroup": {"name": self.group_name}}
                try:
                    created = self.api.execute(
                        self._groups.create(body=body), f"creating the contact group '{self.group_name}'"
                    )
                except ItemError as exc:
                    raise ItemError(
                        f"the contact group '{self.group_name}' could not be created: {exc.message}",
                        code=exc.code,
                    ) from exc
                found = str(created["resourceName"])
            self._group = found
        return self._group

    # -- reading --------------------------------------------------------------------------------
    def _connections(self, sync_token: str | None, page_token: str | None) -> dict[str, Any]:
        request = self._people.connections().list(
            resourceName="people/me",
            personFields=PERSON_FIELDS,
            pageSize=PAGE_SIZE,
            requestSyncToken=True,
            syncToken=sync_token,
            pageToken=page_token,
        )
        return dict(self.api.execute(request, "the contacts"))

    def changes(self, cursor: str | None) -> Iterator[Page]:
        """Pages of changed contacts of the group since `cursor`, or a full listing of the group."""
        state = _read_cursor(cursor)
        if state is not None:
            group, token = state
            try:
                first = self._connections(token, None)
            except ItemError as exc:
                if exc.code not in ("MAIL-SYNC-TOKEN-EXPIRED", "MAIL-GONE", "MAIL-CONFLICT"):
                    raise
            else:
                self._group = group
                yield from self._pages(first, group, token, full=False, reset=False)
                return
        group = self.group()
        yield from self._pages(
            self._connections(None, None), group, None, full=True, reset=cursor is not None
        )

    def _pages(
        self, response: dict[str, Any], group: str, sync_token: str | None, *, full: bool, reset: bool
    ) -> Iterator[Page]:
        while True:
            items: list[ContactItem] = []
            deleted: list[str] = []
            for person in response.get("connections", []):
                name = str(person.get("resourceName") or "")
                if not name:
                    continue
                gone = bool((person.get("metadata") or {}).get("deleted"))
                if not gone and group in _groups_of(person):
                    items.append(self.to_item(person))
                elif not full:
                    deleted.append(name)
            token = response.get("nextPageToken")
            last = not token
            cursor = (
                _write_cursor(group, str(response["nextSyncToken"]))
                if last and response.get("nextSyncToken")
                else None
            )
            yield Page(
                items=tuple(items), deleted=tuple(deleted), cursor=cursor, full=full, last=last, reset=reset
            )
            if last:
                return
            response = self._connections(sync_token, token)

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

    # -- writing --------------------------------------------------------------------------------
    @staticmethod
    def merge(person: Mapping[str, Any], changes: Mapping[str, object]) -> dict[str, list[dict[str, Any]]]:
        """The People fields touched by `changes`, rebuilt from `person` with the changes applied.

        Entries rgsync does not manage (a second email, a home phone, a home address) are kept.
        """
        touched = {_PERSON_FIELD[k] for k in changes if k in _PERSON_FIELD}
        out: dict[str, list[dict[str, Any]]] = {}

        def value(key: str) -> str:
            return str(changes.get(key) or "")

        def entries(field: str) -> list[dict[str, Any]]:
            return [_clean(e) for e in person.get(field) or []]

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

    def apply(self, writes: Sequence[Write], results: list[WriteResult | None]) -> None:
        """Carry out `writes` in batched calls sent one after the other, filling `results`."""
        creates = [n for n, w in enumerate(writes) if isinstance(w, Create) and results[n] is None]
        updates = [n for n, w in enumerate(writes) if isinstance(w, Update) and results[n] is None]
        deletes = [n for n, w in enumerate(writes) if isinstance(w, Delete) and results[n] is None]
        for group in chunks(creates, CREATE_LIMIT):
            self._create(writes, list(group), results)
        for group in chunks(updates, UPDATE_LIMIT):
            self._update(writes, list(group), results)
        for group in chunks(deletes, DELETE_LIMIT):
            self._delete(writes, list(group), results)

    def _create(self, writes: Sequence[Write], indexes: list[int], results: list[WriteResult | None]) -> None:
        good: list[int] = []
        for n in indexes:
            record = writes[n].record  # type: ignore[union-attr]
            if isinstance(record, ContactItem):
                good.append(n)
            else:
                results[n] = WriteResult(
                    ok=False,
                    error_code="MAIL-REFUSED",
                    message=f"cannot create {type(record).__name__} as a contact",
                )
        if not good:
            return
        contacts = [{"contactPerson": self.body_for(writes[n].record)} for n in good]  # type: ignore[union-attr, arg-type]
        request = self._people.batchCreateContacts(body={"contacts": contacts, "readMask": "metadata"})
        try:
            response = self.api.execute(request, "creating contacts")
        except ItemError as exc:
            if len(good) == 1:
                results[good[0]] = WriteResult(
                    ok=False, error_code=exc.code or "MAIL-REFUSED", message=exc.message
                )
                return
            # The whole batch was refused for one bad contact: send them one by one to find it.
            for n in good:
                self._create(writes, [n], results)
            return
        created = response.get("createdPeople", [])
        outcome: dict[int, WriteResult] = {}
        for n, entry in zip(good, created, strict=False):
            person = entry.get("person") or {}
            status = entry.get("status") or {}
            if person.get("resourceName") and not status.get("code"):
                outcome[n] = WriteResult(ok=True, id=str(person["resourceName"]))
            else:
                outcome[n] = WriteResult(
                    ok=False, error_code="MAIL-REFUSED", message=str(status.get("message") or "not created")
                )
        # A create counts as done only once the contact is in the group: should adding it fail,
        # the contact is found by its tag and put there when the session tries again.
        self.add_to_group([r.id for r in outcome.values() if r.ok and r.id])
        for n, result in outcome.items():
            results[n] = result

    def add_to_group(self, names: Sequence[str]) -> None:
        """Put contacts into the `Salesforce Contacts` group (members.modify, ≤ 1,000 a call)."""
        for group in chunks(list(names), MEMBERS_LIMIT):
            body = {"resourceNamesToAdd": list(group)}
            try:
                self.api.execute(
                    self._groups.members().modify(resourceName=self.group(), body=body),
                    "adding contacts to the group",
                )
            except ItemError as exc:
                if exc.code != "MAIL-NOT-FOUND":
                    raise
                self._group = None  # the group was deleted meanwhile: create it again
                self.api.execute(
                    self._groups.members().modify(resourceName=self.group(), body=body),
                    "adding contacts to the group",
                )

    def _current(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Fresh copies (with etags) of contacts by resource name; missing ones are left out."""
        request = self._people.getBatchGet(resourceNames=list(names), personFields=PERSON_FIELDS)
        response = self.api.execute(request, "the contacts to change")
        out: dict[str, dict[str, Any]] = {}
        for entry in response.get("responses", []):
            person = entry.get("person")
            if person and person.get("resourceName"):
                out[str(entry.get("requestedResourceName") or person["resourceName"])] = dict(person)
        return out

    def _update(
        self,
        writes: Sequence[Write],
        indexes: list[int],
        results: list[WriteResult | None],
        *,
        again: bool = True,
    ) -> None:
        current = self._current([writes[n].id for n in indexes])  # type: ignore[union-attr]
        contacts: dict[str, dict[str, Any]] = {}
        fields: set[str] = set()
        for n in indexes:
            write = writes[n]
            assert isinstance(write, Update)
            person = current.get(write.id)
            if person is None:
                results[n] = WriteResult(ok=False, error_code="MAIL-NOT-FOUND", message="contact not found")
                continue
            fields |= {_PERSON_FIELD[k] for k in write.changes if k in _PERSON_FIELD}
        if not fields:
            for n in indexes:
                results[n] = results[n] or WriteResult(ok=True, id=writes[n].id)  # type: ignore[union-attr]
            return
        live = [n for n in indexes if results[n] is None]
        for n in live:
            write = writes[n]
            assert isinstance(write, Update)
            person = current[write.id]
            # One mask serves the whole batch, so every contact sends every masked field in full.
            merged = self.merge(person, write.changes)
            body: dict[str, Any] = {"etag": person.get("etag"), "resourceName": write.id}
            for field in fields:
                body[field] = merged.get(field, [_clean(e) for e in person.get(field) or []])
            contacts[write.id] = body
        request = self._people.batchUpdateContacts(
            body={"contacts": contacts, "updateMask": ",".join(sorted(fields)), "readMask": "metadata"}
        )
        try:
            response = self.api.execute(request, "changing contacts")
        except ItemError as exc:
            if exc.code == "MAIL-CONFLICT" and again:
                # Changed meanwhile (etag mismatch): read them again and retry once.
                self._update(writes, live, results, again=False)
                return
            if len(live) > 1:
                for n in live:
                    self._update(writes, [n], results, again=again)
                return
            results[live[0]] = WriteResult(
                ok=False, error_code=exc.code or "MAIL-REFUSED", message=exc.message
            )
            return
        updated = response.get("updateResult") or {}
        for n in live:
            name = writes[n].id  # type: ignore[union-attr]
            status = (updated.get(name) or {}).get("status") or {}
            if status.get("code"):
                results[n] = WriteResult(
                    ok=False, error_code="MAIL-REFUSED", message=str(status.get("message") or "not changed")
                )
            else:
                results[n] = WriteResult(ok=True, id=name)

    def _delete(self, writes: Sequence[Write], indexes: list[int], results: list[WriteResult | None]) -> None:
        names = [writes[n].id for n in indexes]  # type: ignore[union-attr]
        try:
            self.api.execute(
                self._people.batchDeleteContacts(body={"resourceNames": names}), "deleting contacts"
            )
        except ItemError as exc:
            if len(indexes) == 1:
                gone = exc.code in ("MAIL-NOT-FOUND", "MAIL-GONE")
                results[indexes[0]] = (
                    WriteResult(ok=True, id=names[0])
                    if gone
                    else WriteResult(ok=False, error_code=exc.code or "MAIL-REFUSED", message=exc.message)
                )
                return
            # One contact already gone spoils the batch: delete them one by one.
            for n in indexes:
                self._delete(writes, [n], results)
            return
        for n, name in zip(indexes, names, strict=True):
            results[n] = WriteResult(ok=True, id=name)

    # -- crash recovery ---------------------------------------------------------------------------
    def find_tagged(self, salesforce_ids: Collection[str]) -> dict[str, str]:
        """Contacts tagged with these Salesforce ids (reads every contact); puts strays in the group.

        A contact created just before a crash may have missed being added to the group: it is
        added now, so the next listing sees it where it belongs.
        """
        wanted = set(salesforce_ids)
        found: dict[str, str] = {}
        strays: list[str] = []
        group = self.group()
        token: str | None = None
        while True:
            request = self._people.connections().list(
                resourceName="people/me",
                personFields="clientData,memberships",
                pageSize=PAGE_SIZE,
                pageToken=token,
            )
            response = self.api.execute(request, "the contacts")
            for person in response.get("connections", []):
                for data in person.get("clientData") or ():
                    if data.get("key") == TAG and data.get("value") in wanted:
                        found[str(data["value"])] = str(person["resourceName"])
                        if group not in _groups_of(person):
                            strays.append(str(person["resourceName"]))
            token = response.get("nextPageToken")
            if not token:
                break
        if strays:
            self.add_to_group(strays)
        return found


def _groups_of(person: Mapping[str, Any]) -> set[str]:
    return {
        str((m.get("contactGroupMembership") or {}).get("contactGroupResourceName"))
        for m in person.get("memberships") or ()
        if m.get("contactGroupMembership")
    }


def _read_cursor(cursor: str | None) -> tuple[str, str] | None:
    if not cursor:
        return None
    try:
        state = json.loads(cursor)
        return str(state["group"]), str(state["token"])
    except (ValueError, KeyError, TypeError):
        return None


def _write_cursor(group: str, token: str) -> str:
    return json.dumps({"group": group, "token": token}, separators=(",", ":"))
