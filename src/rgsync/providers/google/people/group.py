"""The contact group `Salesforce Contacts`: found by name or created when missing, contacts put
into it, and (crash recovery) contacts found by their origin tag, strays put back in the group."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from rgsync.providers.base import ItemError
from rgsync.providers.google.api import GoogleApi, chunks
from rgsync.providers.google.people.person import TAG, PersonFields, groups_of

MEMBERS_LIMIT = 1000
PAGE_SIZE = 1000


class ContactGroup(PersonFields):
    """The group and the People services; the base of the reading and writing parts."""

    api: GoogleApi
    group_name: str
    _group: str | None
    # The group's memberCount when it was looked up: the size of a full listing of the group.
    _group_size: int | None = None

    @property
    def _people(self) -> Any:
        return self.api.resource("people", "people")

    @property
    def _groups(self) -> Any:
        return self.api.resource("people", "contactGroups")

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
                        size = entry.get("memberCount")
                        self._group_size = int(size) if size is not None else None
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
                self._group_size = 0
            self._group = found
        return self._group

    def add_to_group(self, names: Sequence[str]) -> None:
        """Put contacts into the `Salesforce Contacts` group (members.modify, ≤ 1,000 a call)."""
        for group in chunks(list(names), MEMBERS_LIMIT):
            body = {"resourceNamesToAdd": list(group)}
            try:
                self.api.execute(
                    self.api.resource("people", "contactGroups", "members").modify(
                        resourceName=self.group(), body=body
                    ),
                    "adding contacts to the group",
                )
            except ItemError as exc:
                if exc.code != "MAIL-NOT-FOUND":
                    raise
                self._group = None  # the group was deleted meanwhile: create it again
                self.api.execute(
                    self.api.resource("people", "contactGroups", "members").modify(
                        resourceName=self.group(), body=body
                    ),
                    "adding contacts to the group",
                )

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
            request = self.api.resource("people", "people", "connections").list(
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
                        if group not in groups_of(person):
                            strays.append(str(person["resourceName"]))
            token = response.get("nextPageToken")
            if not token:
                break
        if strays:
            self.add_to_group(strays)
        return found
