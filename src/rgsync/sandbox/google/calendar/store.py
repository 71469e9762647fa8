"""The primary calendar behind the Calendar emulator: the setup helpers tests use, change numbers
and etags, writes with Google's sequence rules, recurring series expanded into instances (modified
or cancelled ones kept as exceptions), and which events a time window or an incremental sync sees."""

from __future__ import annotations

import base64
import copy
import hashlib
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from rgsync.sandbox.google import recurrence as rrule
from rgsync.sandbox.google.calendar.records import (
    EVENT_ID,
    INSTANCE_ID,
    MAX_INSTANCES,
    SEQUENCE_FIELDS,
    StoredEvent,
    When,
)
from rgsync.sandbox.google.calendar.shaping import EventShaping
from rgsync.sandbox.google.common import GoogleApiError, bad_request, merge_patch, rfc3339


class CalendarStore(EventShaping):
    """The primary calendar behind the Calendar emulator. Public methods are the Python setup helpers
    tests use; `send_updates_log` lists (method, eventId, sendUpdates) for every write call."""

    def __init__(
        self, address: str, clock: Callable[[], datetime], lock: threading.RLock, time_zone: str = "UTC"
    ) -> None:
        self.address = address
        self.clock = clock
        self.lock = lock
        self.time_zone = time_zone
        self.zone = rrule.zone(time_zone)
        self.events: dict[str, StoredEvent] = {}
        self.change_number = 0
        self.token_epoch = 1
        self.send_updates_log: list[tuple[str, str, str | None]] = []
        self._next_order = 0
        self._next_id = 0

    # --- setup helpers ---------------------------------------------------------------------------

    def add_event(self, event: dict[str, Any]) -> str:
        """Store an event given as Calendar API JSON (as if it came from another client: organizer,
        attendees' responses, iCalUID, status are kept as given) and return its id. A dict with
        `recurringEventId` and `originalStartTime` is stored as an exception of that series."""
        with self.lock:
            event_id = str(event.get("id") or self._new_id())
            if event_id in self.events:
                raise _duplicate()
            resource = self._build(event, event_id=event_id, previous=None, from_client=False)
            self._store(resource)
            return event_id

    def delete_event(self, event_id: str) -> None:
        """Cancel an event as if deleted in another client (it stays visible to sync as cancelled)."""
        with self.lock:
            stored = self._existing(event_id)
            stored.resource["status"] = "cancelled"
            self._touch(stored.resource)
            self._store(stored.resource)

    def update_event(self, event_id: str, changes: dict[str, Any]) -> None:
        """Patch an event as if edited in another client (patch semantics, sequence maintained)."""
        with self.lock:
            self._patch(event_id, changes, replace=False, from_client=False)

    def expire_sync_tokens(self) -> None:
        """Make every sync token handed out so far answer 410 (full sync required)."""
        with self.lock:
            self.token_epoch += 1

    def get(self, event_id: str) -> dict[str, Any]:
        """A copy of the stored event or series exception (KeyError when unknown)."""
        with self.lock:
            return copy.deepcopy(self.events[event_id].resource)

    # --- identity, stamps ------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._next_id += 1
        digest = hashlib.sha1(f"{self.address}:{self._next_id}".encode()).digest()
        return base64.b32hexencode(digest).decode("ascii").lower().rstrip("=")[:26]

    def _store(self, resource: dict[str, Any]) -> StoredEvent:
        self.change_number += 1
        existing = self.events.get(resource["id"])
        order = existing.order if existing is not None else self._next_order
        if existing is None:
            self._next_order += 1
        stored = StoredEvent(resource, self.change_number, order)
        resource["etag"] = f'"{3_400_000_000_000_000 + self.change_number}"'
        self.events[resource["id"]] = stored
        return stored

    def _touch(self, resource: dict[str, Any]) -> None:
        resource["updated"] = rfc3339(self.clock())

    def _existing(self, event_id: str) -> StoredEvent:
        stored = self.events.get(event_id)
        if stored is None:
            materialised = self._materialise_instance(event_id)
            if materialised is None:
                raise GoogleApiError(404, "notFound", "Not Found")
            return StoredEvent(materialised, self.events[materialised["recurringEventId"]].changed, -1)
        return stored

    # --- writes ----------------------------------------------------------------------------------

    def _insert(self, body: dict[str, Any]) -> dict[str, Any]:
        event_id = body.get("id")
        if event_id is not None:
            event_id = str(event_id)
            if not EVENT_ID.match(event_id):
                raise bad_request("Invalid resource id value.")
            if event_id in self.events:
                raise _duplicate()
        else:
            event_id = self._new_id()
        resource = self._build(body, event_id=event_id, previous=None, from_client=True)
        return self._store(resource).resource

    def _patch(
        self, event_id: str, body: dict[str, Any], *, replace: bool, from_client: bool
    ) -> dict[str, Any]:
        stored = self._existing(event_id)
        previous = stored.resource
        merged = copy.deepcopy(body) if replace else merge_patch(previous, body)
        if replace:
            for key in ("recurringEventId", "originalStartTime"):
                if key in previous:
                    merged[key] = previous[key]
        supplied_sequence = body.get("sequence")
        current_sequence = int(previous.get("sequence") or 0)
        if supplied_sequence is not None and int(supplied_sequence) < current_sequence:
            raise bad_request(
                "Invalid sequence value. The specified sequence number is below the current sequence number of the resource."
            )
        merged.pop("sequence", None)
        keep = dict(previous)
        if not from_client:
            for key in ("organizer", "creator", "created", "iCalUID"):
                merged.setdefault(key, previous.get(key))
        resource = self._build(merged, event_id=previous["id"], previous=keep, from_client=from_client)
        significant = any(resource.get(key) != previous.get(key) for key in SEQUENCE_FIELDS)
        sequence = current_sequence + (1 if significant else 0)
        if supplied_sequence is not None:
            sequence = max(sequence, int(supplied_sequence))
        resource["sequence"] = sequence
        self._touch(resource)
        return self._store(resource).resource

    # --- recurring series ------------------------------------------------------------------------

    def _instances(
        self, master: dict[str, Any], *, before: datetime | None = None, limit: int = MAX_INSTANCES
    ) -> list[dict[str, Any]]:
        """The series' instances (exceptions in place of the instances they replace)."""
        start = self._parse_when(master["start"], "start")
        end = self._parse_when(master["end"], "end")
        local = self._zone_of(start)
        series = rrule.parse(list(master.get("recurrence") or []), local)
        begin = start.value.astimezone(local) if isinstance(start.value, datetime) else start.value
        duration_days = (end.value - start.value).days if start.all_day else 0  # type: ignore[operator]
        duration = self._moment(end) - self._moment(start)
        instances: list[dict[str, Any]] = []
        for occurrence in rrule.occurrences(series, begin, local, limit=limit, before=before):
            instance_id = f"{master['id']}_{rrule.instance_stamp(occurrence)}"
            exception = self.events.get(instance_id)
            if exception is not None:
                instances.append(exception.resource)
                continue
            instances.append(self._instance(master, instance_id, occurrence, start, duration, duration_days))
        return instances

    def _instance(
        self,
        master: dict[str, Any],
        instance_id: str,
        occurrence: datetime | date,
        start: When,
        duration: timedelta,
        duration_days: int,
    ) -> dict[str, Any]:
        instance = copy.deepcopy(master)
        instance.pop("recurrence", None)
        instance["id"] = instance_id
        instance["recurringEventId"] = master["id"]
        if isinstance(occurrence, datetime):
            begin = When(occurrence, start.zone_name)
            finish = When(occurrence + duration, start.zone_name)
        else:
            begin = When(occurrence, None)
            finish = When(occurrence + timedelta(days=duration_days), None)
        instance["start"] = self._render_when(begin)
        instance["end"] = self._render_when(finish)
        instance["originalStartTime"] = self._render_when(begin)
        return instance

    def _materialise_instance(self, instance_id: str) -> dict[str, Any] | None:
        found = INSTANCE_ID.match(instance_id)
        if found is None:
            return None
        series = self.events.get(found.group("series"))
        if series is None or not series.resource.get("recurrence"):
            return None
        for instance in self._instances(series.resource):
            if instance["id"] == instance_id:
                return instance
        return None

    # --- listing ---------------------------------------------------------------------------------

    def _window(self, resource: dict[str, Any], time_min: datetime | None, time_max: datetime | None) -> bool:
        if time_min is None and time_max is None:
            return True
        start, end = self._bounds(resource)
        if resource.get("recurrence") and not resource.get("recurringEventId"):
            occurrences = self._instances(resource, before=time_max)
            return any(self._window(instance, time_min, time_max) for instance in occurrences)
        if time_min is not None and end <= time_min:
            return False
        return not (time_max is not None and start >= time_max)

    def _listing(
        self,
        *,
        single: bool,
        show_deleted: bool,
        since: int | None,
        time_min: datetime | None,
        time_max: datetime | None,
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        records = sorted(self.events.values(), key=lambda s: s.order)
        exception_ids = {s.resource["id"] for s in records if s.resource.get("recurringEventId")}
        for stored in records:
            resource = stored.resource
            is_exception = bool(resource.get("recurringEventId"))
            is_series = bool(resource.get("recurrence")) and not is_exception
            if since is not None:
                if single and is_series and not stored.cancelled:
                    if stored.changed > since:
                        items.extend(i for i in self._instances(resource) if i["id"] not in exception_ids)
                    continue
                if stored.changed > since:
                    items.append(resource)
                continue
            master = self.events.get(resource["recurringEventId"]) if is_exception else None
            if is_exception:
                if master is not None and master.cancelled and not show_deleted:
                    continue
                if single:
                    continue  # emitted in place of their instance below
                if stored.cancelled or self._window(resource, time_min, time_max):
                    items.append(resource)
                continue
            if stored.cancelled:
                if show_deleted and not (single and is_series):
                    items.append(resource)
                continue
            if single and is_series:
                for instance in self._instances(resource, before=time_max):
                    if instance.get("status") == "cancelled" and not show_deleted:
                        continue
                    if self._window(instance, time_min, time_max):
                        items.append(instance)
                continue
            if self._window(resource, time_min, time_max):
                items.append(resource)
        return items


def _duplicate() -> GoogleApiError:
    return GoogleApiError(409, "duplicate", "The requested identifier already exists.")
