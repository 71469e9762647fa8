"""Contacts and contact folders (Outlook's People), with a change log per folder.

`/me/contacts` is the default Contacts folder; `/me/contactFolders` lists the folders created
under it. Contacts accept single-value extended properties (how a client tags the contacts it
created) and reject properties the contact type does not define, as Graph does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rgsync.sandbox.graph.common import (
    GraphError,
    Json,
    change_key,
    deep_copy,
    extended_properties,
    iso_utc,
    new_id,
    read_extended_properties,
)
from rgsync.sandbox.graph.delta import ChangeLog

DEFAULT_FOLDER = "contacts"
CONTACT_FIELDS = frozenset(
    {
        "givenName",
        "surname",
        "middleName",
        "displayName",
        "nickName",
        "title",
        "initials",
        "generation",
        "emailAddresses",
        "businessPhones",
        "homePhones",
        "mobilePhone",
        "jobTitle",
        "department",
        "companyName",
        "officeLocation",
        "profession",
        "manager",
        "assistantName",
        "businessHomePage",
        "businessAddress",
        "homeAddress",
        "otherAddress",
        "personalNotes",
        "categories",
        "fileAs",
        "birthday",
        "spouseName",
        "imAddresses",
        "children",
        "yomiGivenName",
        "yomiSurname",
        "yomiCompanyName",
        "singleValueExtendedProperties",
    }
)
_ADDRESS_PARTS = ("street", "city", "state", "postalCode", "countryOrRegion")


@dataclass
class StoredContact:
    """One contact: its folder, its properties and its extended properties."""

    id: str
    folder_id: str
    resource: Json
    extended: dict[str, str] = field(default_factory=dict)


class ContactStore:
    """The default Contacts folder, the folders under it, and their contacts."""

    def __init__(self, clock: Callable[[], datetime], log: ChangeLog) -> None:
        self.clock = clock
        self.log = log
        self.root_id = new_id("AAMkAD", 40)
        self.folders: dict[str, Json] = {}
        self.contacts: dict[str, StoredContact] = {}

    # -- folders ---------------------------------------------------------------------------------
    def folder_id(self, name_or_id: str) -> str:
        """The id of a folder by id (or 'contacts' for the default one); Graph's 404 otherwise."""
        if name_or_id.lower() == DEFAULT_FOLDER or name_or_id == self.root_id:
            return self.root_id
        if name_or_id in self.folders:
            return name_or_id
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def create_folder(self, body: Mapping[str, Any]) -> Json:
        """Create a contact folder under the default one; Graph refuses a duplicate display name."""
        name = str(body.get("displayName") or "").strip()
        if not name:
            raise GraphError(400, "ErrorInvalidRequest", "The property 'displayName' is required.")
        if any(f["displayName"].lower() == name.lower() for f in self.folders.values()):
            raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        folder = {"id": new_id("AAMkAD", 40), "displayName": name, "parentFolderId": self.root_id}
        self.folders[folder["id"]] = folder
        return deep_copy(folder)

    def find_folder(self, name: str) -> str | None:
        """The id of the folder with this display name (case-insensitive), if any."""
        return next(
            (f["id"] for f in self.folders.values() if f["displayName"].lower() == name.lower()), None
        )

    # -- contacts --------------------------------------------------------------------------------
    def resolve(self, contact_id: str, folder: str | None = None) -> StoredContact:
        """A contact by id (optionally checked to be in `folder`); Graph's 404 otherwise."""
        stored = self.contacts.get(contact_id)
        if stored is None or (folder is not None and stored.folder_id != self.folder_id(folder)):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return stored

    def create(self, folder: str, body: Mapping[str, Any]) -> StoredContact:
        """Create a contact in a folder from Graph's contact body."""
        folder_id = self.folder_id(folder)
        stored = StoredContact(new_id("AAMkAC", 64), folder_id, {})
        self._apply(stored, body)
        stored.resource["createdDateTime"] = iso_utc(self.clock())
        self._stamp(stored)
        self.contacts[stored.id] = stored
        self.log.record(self.collection(folder_id), stored.id, None)
        return stored

    def update(self, contact_id: str, changes: Mapping[str, Any], folder: str | None = None) -> StoredContact:
        """PATCH a contact."""
        stored = self.resolve(contact_id, folder)
        before = deep_copy(stored)
        self._apply(stored, changes)
        self._stamp(stored)
        self.log.record(self.collection(stored.folder_id), stored.id, before)
        return stored

    def delete(self, contact_id: str, folder: str | None = None) -> None:
        """Delete a contact."""
        stored = self.resolve(contact_id, folder)
        del self.contacts[stored.id]
        self.log.record(self.collection(stored.folder_id), stored.id, stored)

    def collection(self, folder_id: str) -> str:
        """The change-log collection of a folder."""
        return f"contacts:{folder_id}"

    def in_folder(self, folder_id: str) -> list[StoredContact]:
        """The contacts of one folder, in creation order."""
        return [c for c in self.contacts.values() if c.folder_id == folder_id]

    def render(
        self, stored: StoredContact, *, expand_property: str | None = None, expand: bool = False
    ) -> Json:
        """The contact as Graph's contact resource."""
        body = deep_copy(stored.resource)
        body["id"] = stored.id
        body["parentFolderId"] = stored.folder_id
        body["@odata.etag"] = f'W/"{body.get("changeKey", "")}"'
        if expand:
            body["singleValueExtendedProperties"] = extended_properties(stored.extended, expand_property)
        return body

    def _stamp(self, stored: StoredContact) -> None:
        stored.resource["lastModifiedDateTime"] = iso_utc(self.clock())
        stored.resource["changeKey"] = change_key()

    def _apply(self, stored: StoredContact, body: Mapping[str, Any]) -> None:
        for name, value in body.items():
            if name.startswith("@odata") or name in (
                "id",
                "parentFolderId",
                "changeKey",
                "createdDateTime",
                "lastModifiedDateTime",
            ):
                continue
            if name not in CONTACT_FIELDS:
                raise GraphError(
                    400,
                    "RequestBodyRead",
                    f"The property '{name}' does not exist on type 'microsoft.graph.contact'. Make sure to only use property names that are defined by the type or mark the type as open type.",
                )
            if name == "singleValueExtendedProperties":
                stored.extended.update(read_extended_properties(body))
            elif name in ("businessAddress", "homeAddress", "otherAddress"):
                value = value or {}
                stored.resource[name] = {part: str(value.get(part, "") or "") for part in _ADDRESS_PARTS}
            elif name == "emailAddresses":
                stored.resource[name] = [
                    {"name": str(e.get("name") or e.get("address", "")), "address": str(e.get("address", ""))}
                    for e in value or []
                    if isinstance(e, Mapping) and e.get("address")
                ]
            else:
                stored.resource[name] = deep_copy(value)
        resource = stored.resource
        for name in ("emailAddresses", "businessPhones", "homePhones", "categories"):
            resource.setdefault(name, [])
        for name in ("businessAddress", "homeAddress", "otherAddress"):
            resource.setdefault(name, {})
        for name in (
            "givenName",
            "surname",
            "mobilePhone",
            "jobTitle",
            "department",
            "companyName",
            "personalNotes",
        ):
            resource.setdefault(name, None)
        if "displayName" not in body:
            resource["displayName"] = " ".join(
                p for p in (resource.get("givenName"), resource.get("surname")) if p
            )
        resource["fileAs"] = resource.get("fileAs") or ""
