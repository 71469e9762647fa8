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

from rgsync.providers.google.api import GoogleApi
from rgsync.providers.google.people.reading import ContactReading
from rgsync.providers.google.people.writing import ContactWriting


class GooglePeople(ContactReading, ContactWriting):
    """The `Salesforce Contacts` group (see the module docstring)."""

    def __init__(self, api: GoogleApi, *, group_name: str) -> None:
        self.api = api
        self.group_name = group_name
        self._group: str | None = None
