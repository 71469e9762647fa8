"""Reading the group's contacts: people.connections.list with a sync token, the group and the
token kept together in the cursor; an expired token falls back to a full listing (`reset`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from rgsync.model import ContactItem, Page
from rgsync.providers.base import ItemError
from rgsync.providers.google.people.group import PAGE_SIZE, ContactGroup
from rgsync.providers.google.people.person import PERSON_FIELDS, groups_of


class ContactReading(ContactGroup):
    """Pages of changed contacts of the group (SPEC §6)."""

    # -- reading --------------------------------------------------------------------------------
    def _connections(self, sync_token: str | None, page_token: str | None) -> dict[str, Any]:
        request = self.api.resource("people", "people", "connections").list(
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
                if not gone and group in groups_of(person):
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
            # connections.list counts the whole address book (totalItems); the group's memberCount
            # is what a full listing of the group holds. A change listing has no count.
            yield Page(
                items=tuple(items),
                deleted=tuple(deleted),
                cursor=cursor,
                full=full,
                last=last,
                reset=reset,
                total=self._group_size if full else None,
            )
            if last:
                return
            response = self._connections(sync_token, token)


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
