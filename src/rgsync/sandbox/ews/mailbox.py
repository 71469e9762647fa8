"""The user's hands on the emulated mailbox: what tests and scenario files do to it.

`MailboxState` is the emulator's state plus set-up helpers that act as the user would in Outlook
(receive an email, create or edit a meeting, complete a task, delete a contact). Every helper goes
through the same store as the SOAP operations, so each change lands in the change journal and shows
up in the next SyncFolderItems.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from . import builders, mime
from .items import normalise
from .recurrence import split_occurrence_id
from .soap import t
from .store import EwsError, EwsState, StoredItem, extended_key
from .views import calendar_view, expand, occurrence, resolve_item


class MailboxState(EwsState):
    """An emulated Exchange mailbox with set-up helpers (all thread-safe)."""

    # --- adding --------------------------------------------------------------------------------------

    def add_message(
        self,
        raw: bytes,
        folder: str = "inbox",
        categories: Iterable[str] = (),
        item_class: str = "IPM.Note",
        *,
        received: datetime | None = None,
        is_read: bool = False,
    ) -> str:
        """Deliver a raw RFC 822 message into a folder ('inbox', 'sentitems', 'junkemail', a folder id
        or a 'parent/Child' path); returns its ItemId. `item_class` sets the Exchange item class
        (IPM.Note, IPM.Schedule.Meeting.Request, REPORT.IPM.Note.NDR, …)."""
        with self.lock:
            target = self.resolve_folder(folder)
            props = mime.message_props(
                raw,
                item_class=item_class,
                categories=list(categories),
                received=received,
                now=self.now(),
                is_read=is_read,
            )
            return self.insert(target.id, mime.message_tag(item_class), props, {}).id

    def add_calendar_item(self, spec: Mapping[str, Any], folder: str = "calendar") -> str:
        """Create a calendar item as the user would (see `builders.calendar_props` for the keys;
        `extended` adds named PublicStrings properties); returns its ItemId (a series' master id)."""
        with self.lock:
            target = self.resolve_folder(folder)
            props = builders.calendar_props(spec, owner=self.address, owner_name=self.name, creating=True)
            return self._insert_checked(target.id, "CalendarItem", props, spec)

    def add_task(self, spec: Mapping[str, Any], folder: str = "tasks") -> str:
        """Create a task (keys: see `builders.task_props`); returns its ItemId."""
        with self.lock:
            target = self.resolve_folder(folder)
            return self._insert_checked(target.id, "Task", builders.task_props(spec, creating=True), spec)

    def add_contact(self, spec: Mapping[str, Any], folder: str = "contacts") -> str:
        """Create a contact (keys: see `builders.contact_props`); returns its ItemId."""
        with self.lock:
            target = self.resolve_folder(folder)
            return self._insert_checked(
                target.id, "Contact", builders.contact_props(spec, creating=True), spec
            )

    def _insert_checked(
        self, folder_id: str, tag: str, props: dict[str, Any], spec: Mapping[str, Any]
    ) -> str:
        extended = builders.extended_map(spec.get("extended"))
        probe = StoredItem("new", folder_id, tag, props, extended)
        normalise(probe, self.address, self.name)
        return self.insert(folder_id, tag, probe.props, probe.extended).id

    # --- changing ------------------------------------------------------------------------------------

    def update_item(self, item_id: str, changes: Mapping[str, Any]) -> None:
        """Change an item as the user would, with the same keys its `add_*` helper takes. An
        occurrence id turns that occurrence into an exception of its series."""
        with self.lock:
            split = split_occurrence_id(item_id)
            if split is not None:
                self._update_occurrence(split[0], split[1], changes)
                return
            item = self.item(item_id)
            if item.tag == "CalendarItem":
                props = builders.calendar_props(
                    changes, owner=self.address, owner_name=self.name, creating=False
                )
            elif item.tag == "Task":
                props = builders.task_props(changes, creating=False)
            elif item.tag == "Contact":
                props = builders.contact_props(changes, creating=False)
            else:
                props = {}
                if "categories" in changes:
                    props["Categories"] = builders.strings("Categories", changes["categories"])
                if "subject" in changes:
                    props["Subject"] = builders.text("Subject", changes["subject"])
            merged = StoredItem(
                item.id, item.folder_id, item.tag, {**item.props, **props}, dict(item.extended)
            )
            if (
                item.tag == "Task"
                and ({"status", "completed"} & set(changes))
                and "percent_complete" not in changes
            ):
                merged.props.pop("PercentComplete", None)  # recomputed from the new status
            merged.extended.update(builders.extended_map(changes.get("extended")))
            normalise(merged, self.address, self.name)
            item.props, item.extended = merged.props, merged.extended
            self.touch(item)

    def _update_occurrence(
        self, master_id: str, original_start: datetime, changes: Mapping[str, Any]
    ) -> None:
        master = self.item(master_id)
        current = occurrence(master, original_start)
        if current is None:
            raise EwsError("ErrorCalendarOccurrenceIsDeletedFromRecurrence", "that occurrence was deleted")
        props = builders.calendar_props(changes, owner=self.address, owner_name=self.name, creating=False)
        props.pop("Recurrence", None)
        overrides = master.exceptions.setdefault(current.text("OriginalStart"), {})
        overrides.update(props)
        self.touch(master)

    def set_categories(self, item_id: str, categories: Iterable[str]) -> None:
        """Replace an item's categories (as the user ticking them in Outlook)."""
        self.update_item(item_id, {"categories": list(categories)})

    def mark_read(self, item_id: str, read: bool = True) -> None:
        """Mark a message read or unread (a ReadFlagChange in SyncFolderItems)."""
        with self.lock:
            item = self.item(item_id)
            item.set_text("IsRead", "true" if read else "false")
            self.touch(item, "read")

    def move_item(self, item_id: str, folder: str) -> None:
        """Move an item to another folder (e.g. the user drags an email to Junk Email)."""
        with self.lock:
            self.move(item_id, self.resolve_folder(folder).id)

    def delete_item(self, item_id: str) -> None:
        """Delete an item for good; an occurrence id deletes just that occurrence of its series."""
        with self.lock:
            split = split_occurrence_id(item_id)
            if split is None:
                self.remove(item_id)
                return
            master = self.item(split[0])
            master.deleted_occurrences.add(resolve_item(self, item_id).text("OriginalStart"))
            self.touch(master)

    # --- looking ---------------------------------------------------------------------------------------

    def categories_of(self, item_id: str) -> list[str]:
        """The categories on an item."""
        with self.lock:
            elem = self.item(item_id).props.get("Categories")
            return [(s.text or "") for s in elem] if elem is not None else []

    def extended_value(
        self, item_id: str, name: str, property_set: str = builders.PROPERTY_SET
    ) -> str | None:
        """The value of a named extended property on an item (None when it has none)."""
        with self.lock:
            item = resolve_item(self, item_id)
            for key, elem in item.extended.items():
                if key == (property_set, name):
                    value = elem.findtext(t("Value"))
                    return str(value) if value is not None else None
            return None

    def items_in(self, folder: str) -> list[str]:
        """ItemIds in a folder, oldest first."""
        with self.lock:
            return [i.id for i in self.folder_items(self.resolve_folder(folder).id)]

    def occurrences(self, series_id: str, until: datetime | None = None) -> list[str]:
        """Occurrence ids of a series (up to `until`, default one year after its start)."""
        with self.lock:
            master = self.item(series_id)
            start = master.datetime_of("Start")
            assert start is not None
            return [o.id for o in expand(master, until or start + timedelta(days=366))]

    def view(self, start: datetime, end: datetime, folder: str = "calendar") -> list[str]:
        """Ids a CalendarView over [start, end) would list."""
        with self.lock:
            return [i.id for i in calendar_view(self, self.resolve_folder(folder).id, start, end)]

    def invitations_sent(self) -> int:
        """Meeting invitations/cancellations Exchange would have e-mailed to attendees so far."""
        with self.lock:
            return sum(sent for _op, _mode, sent in self.invitation_calls)

    def invitation_modes(self) -> list[tuple[str, str]]:
        """(operation, SendMeetingInvitations… value) of every call that wrote calendar items."""
        with self.lock:
            return [(op, mode) for op, mode, _sent in self.invitation_calls]

    # --- scenarios ---------------------------------------------------------------------------------------

    def load(self, scenario: Mapping[str, Any]) -> None:
        """Load scenario data: {"messages": [{"raw", "folder", "categories", "item_class",
        "received"}], "calendar": [calendar specs], "tasks": [task specs with optional "folder"],
        "contacts": [contact specs with optional "folder"], "folders": ["tasks/Salesforce Tasks", …]},
        or the Google emulator's shapes (`Scenario.google_scenario()`, see `scenario.py`)."""
        from .scenario import is_google_shaped, load_google_scenario

        if is_google_shaped(scenario):
            load_google_scenario(self, scenario)
            return
        for path in scenario.get("folders") or []:
            self.resolve_folder(str(path))
        for entry in scenario.get("messages") or []:
            raw = entry["raw"]
            self.add_message(
                raw.encode("utf-8") if isinstance(raw, str) else raw,
                str(entry.get("folder", "inbox")),
                entry.get("categories", ()),
                str(entry.get("item_class", "IPM.Note")),
                received=entry.get("received"),
                is_read=bool(entry.get("is_read", False)),
            )
        for spec in scenario.get("calendar") or []:
            self.add_calendar_item(spec, str(spec.get("folder", "calendar")))
        for spec in scenario.get("tasks") or []:
            self.add_task(spec, str(spec.get("folder", "tasks")))
        for spec in scenario.get("contacts") or []:
            self.add_contact(spec, str(spec.get("folder", "contacts")))


__all__ = ["MailboxState", "extended_key"]
