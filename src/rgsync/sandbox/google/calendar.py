"""The Google Calendar API v3 emulator: the user's primary calendar with events, recurring series
(expanded for singleEvents=true, with modified or cancelled instances kept as exceptions), sync
tokens over a change journal, and a log of every `sendUpdates` a write asked for.

Sync tokens: every change stamps the event with the next change number; a token remembers the
number at the start of the listing that produced it, so the next incremental listing returns what
changed after it (deleted events included, as status 'cancelled'). `expire_sync_tokens()` makes
every token handed out so far answer 410, as Google does when a full sync is required.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from rgsync.sandbox.google import recurrence as rrule
from rgsync.sandbox.google.common import (
    Call,
    GoogleApiError,
    Route,
    bad_request,
    decode_token,
    encode_token,
    merge_patch,
    no_content,
    page_offset,
    parse_rfc3339,
    rfc3339,
    route,
)

MAX_LIST_RESULTS = 2500
DEFAULT_LIST_RESULTS = 250
# Open-ended series are expanded this far (Google itself stops expanding a few years out).
MAX_INSTANCES = 730
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
INSTANCE_ID = re.compile(r"^(?P<series>[a-v0-9]{5,1024})_(?P<stamp>\d{8}(?:T\d{6}Z)?)$")
# Parameters Google refuses together with syncToken.
NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
# Changes that make Google bump an event's `sequence` (what attendees' invitations depend on).
SEQUENCE_FIELDS = ("start", "end", "recurrence", "location", "summary")
SERVER_FIELDS = ("kind", "etag", "id", "htmlLink", "created", "updated", "iCalUID", "creator", "organizer")
STATUSES = ("confirmed", "tentative", "cancelled")
VISIBILITIES = ("default", "public", "private", "confidential")
TRANSPARENCIES = ("opaque", "transparent")
RESPONSE_STATUSES = ("needsAction", "declined", "tentative", "accepted")


@dataclass
class StoredEvent:
    """An event (a single event, a series, or a series exception) and its change number."""

    resource: dict[str, Any]
    changed: int
    order: int

    @property
    def cancelled(self) -> bool:
        """Whether the event is deleted (Google keeps it as status 'cancelled')."""
        return self.resource.get("status") == "cancelled"


@dataclass(frozen=True)
class When:
    """A parsed start or end: an aware datetime (timed) or a date (all-day) and its time zone name."""

    value: datetime | date
    zone_name: str | None

    @property
    def all_day(self) -> bool:
        """Whether this is a date (all-day) rather than a date-time."""
        return not isinstance(self.value, datetime)


class CalendarStore:
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

    # --- times -----------------------------------------------------------------------------------

    def _parse_when(self, value: Any, what: str) -> When:
        if not isinstance(value, dict) or not (value.get("date") or value.get("dateTime")):
            raise bad_request(f"Missing {what} time.", reason="required")
        zone_name = value.get("timeZone")
        if zone_name is not None:
            try:
                rrule.zone(str(zone_name))
            except rrule.RecurrenceError:
                raise bad_request(f"Invalid time zone definition for {what} time.") from None
        if value.get("date") and value.get("dateTime"):
            raise bad_request(f"Invalid {what} time.")
        if value.get("date"):
            try:
                return When(date.fromisoformat(str(value["date"])), None)
            except ValueError:
                raise bad_request(f"Invalid {what} time.") from None
        try:
            moment = datetime.fromisoformat(str(value["dateTime"]))
        except ValueError:
            raise bad_request(f"Invalid {what} time.") from None
        if moment.tzinfo is None:
            if not zone_name:
                raise bad_request(f"Missing time zone definition for {what} time.", reason="required")
            moment = moment.replace(tzinfo=rrule.zone(str(zone_name)))
        return When(moment.replace(microsecond=0), str(zone_name) if zone_name else None)

    def _zone_of(self, when: When) -> tzinfo:
        return rrule.zone(when.zone_name) if when.zone_name else self.zone

    def _render_when(self, when: When) -> dict[str, Any]:
        if isinstance(when.value, datetime):
            local = when.value.astimezone(self._zone_of(when))
            text = local.isoformat()
            if text.endswith("+00:00"):
                text = text[:-6] + "Z"
            rendered: dict[str, Any] = {"dateTime": text}
            if when.zone_name:
                rendered["timeZone"] = when.zone_name
            return rendered
        return {"date": when.value.isoformat()}

    def _bounds(self, resource: dict[str, Any]) -> tuple[datetime, datetime]:
        """An event's start and end as aware datetimes (all-day days start at local midnight)."""
        start = self._parse_when(resource["start"], "start")
        end = self._parse_when(resource["end"], "end")
        return self._moment(start), self._moment(end)

    def _moment(self, when: When) -> datetime:
        if isinstance(when.value, datetime):
            return when.value
        return datetime.combine(when.value, time(0)).replace(tzinfo=self.zone)

    # --- building resources ----------------------------------------------------------------------

    def _build(
        self, body: dict[str, Any], *, event_id: str, previous: dict[str, Any] | None, from_client: bool
    ) -> dict[str, Any]:
        start = self._parse_when(body.get("start"), "start")
        end = self._parse_when(body.get("end"), "end")
        if start.all_day != end.all_day:
            raise bad_request("Start and end times must either both be date or both be dateTime.")
        if self._moment(end) <= self._moment(start):
            raise GoogleApiError(
                400, "timeRangeEmpty", "The specified time range is empty.", location="end.dateTime"
            )
        lines = body.get("recurrence")
        if lines:
            if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
                raise bad_request("Invalid recurrence rule.")
            if not start.all_day and not start.zone_name:
                raise bad_request("Missing time zone definition for start time.", reason="required")
            try:
                rrule.parse(lines, self._zone_of(start))
            except rrule.RecurrenceError as exc:
                raise bad_request(f"Invalid recurrence rule. {exc}") from None
        for key, allowed in (
            ("status", STATUSES),
            ("visibility", VISIBILITIES),
            ("transparency", TRANSPARENCIES),
        ):
            if key in body and body[key] is not None and body[key] not in allowed:
                raise bad_request(f"Invalid value for: {key}")
        extended = body.get("extendedProperties")
        if extended is not None:
            if not isinstance(extended, dict):
                raise bad_request("Invalid value for: extendedProperties")
            for scope, values in extended.items():
                if scope not in ("private", "shared") or not isinstance(values, dict):
                    raise bad_request("Invalid value for: extendedProperties")
                if not all(isinstance(v, str) for v in values.values()):
                    raise bad_request("Invalid value for: extendedProperties")

        now = rfc3339(self.clock())
        resource: dict[str, Any] = {"kind": "calendar#event", "etag": "", "id": event_id}
        for key, value in body.items():
            if key not in SERVER_FIELDS and value is not None:
                resource[key] = copy.deepcopy(value)
        resource["status"] = body.get("status") or "confirmed"
        resource["start"] = self._render_when(start)
        resource["end"] = self._render_when(end)
        me = {"email": self.address, "self": True}
        if from_client:
            kept = previous or {}
            resource["organizer"] = copy.deepcopy(kept.get("organizer", me))
            resource["creator"] = copy.deepcopy(kept.get("creator", me))
            resource["created"] = kept.get("created", now)
            resource["iCalUID"] = kept.get("iCalUID") or body.get("iCalUID") or f"{event_id}@google.com"
        else:
            resource["organizer"] = copy.deepcopy(body.get("organizer") or me)
            resource["creator"] = copy.deepcopy(body.get("creator") or resource["organizer"])
            resource["created"] = body.get("created") or now
            resource["iCalUID"] = body.get("iCalUID") or f"{event_id}@google.com"
        for person in (resource["organizer"], resource["creator"]):
            if str(person.get("email", "")).lower() == self.address.lower():
                person["self"] = True
        resource["updated"] = now if from_client or not body.get("updated") else body["updated"]
        resource["htmlLink"] = "https://www.google.com/calendar/event?eid=" + base64.urlsafe_b64encode(
            f"{event_id} {self.address}".encode()
        ).decode("ascii").rstrip("=")
        resource["sequence"] = int(body.get("sequence") or (previous or {}).get("sequence") or 0)
        resource.setdefault("reminders", {"useDefault": True})
        resource.setdefault("eventType", "default")
        if "attendees" in resource:
            resource["attendees"] = self._attendees(resource["attendees"], resource["organizer"])
        return resource

    def _attendees(self, attendees: Any, organizer: dict[str, Any]) -> list[dict[str, Any]]:
        if not isinstance(attendees, list):
            raise bad_request("Invalid value for: attendees")
        result: list[dict[str, Any]] = []
        organizer_email = str(organizer.get("email", "")).lower()
        for attendee in attendees:
            if not isinstance(attendee, dict) or not attendee.get("email"):
                raise bad_request("Missing attendee email.", reason="required")
            item = dict(attendee)
            status = item.get("responseStatus") or "needsAction"
            if status not in RESPONSE_STATUSES:
                raise bad_request("Invalid attendee response status.")
            item["responseStatus"] = status
            email = str(item["email"]).lower()
            if email == self.address.lower():
                item["self"] = True
            if email == organizer_email:
                item["organizer"] = True
            result.append(item)
        return result

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

    def _list(self, call: Call) -> dict[str, Any]:
        sync_token = call.param("syncToken")
        single = call.flag("singleEvents")
        show_deleted = call.flag("showDeleted")
        offset, page_state = page_offset(call, "cp.")
        since: int | None = None
        if not sync_token and "n" in page_state:
            # A later page of an incremental listing, asked for with the pageToken alone.
            state_of_pages = {
                "e": page_state.get("e"),
                "n": page_state["n"],
                "single": page_state.get("single"),
            }
            sync_token = encode_token("cs.", state_of_pages)
        if sync_token:
            for name in NOT_WITH_SYNC_TOKEN:
                if call.params(name):
                    raise bad_request(
                        f"The parameter {name} cannot be used together with syncToken.", location=name
                    )
            state = decode_token("cs.", sync_token, what="syncToken")
            if state.get("e") != self.token_epoch:
                raise GoogleApiError(
                    410,
                    "fullSyncRequired",
                    "Sync token is no longer valid, a full sync is required.",
                    domain="calendar",
                    location="syncToken",
                )
            if bool(state.get("single")) != single:
                raise bad_request(
                    "The parameter singleEvents must have the same value as in the request that produced the syncToken.",
                    location="singleEvents",
                )
            since = int(state["n"])
        order_by = call.param("orderBy")
        if order_by not in (None, "startTime", "updated"):
            raise bad_request(f"Invalid value for: orderBy ({order_by})", location="orderBy")
        if order_by == "startTime" and not single:
            raise GoogleApiError(
                400, "badRequest", "The requested ordering is not available for the particular query."
            )
        time_min = (
            parse_rfc3339(call.param("timeMin") or "", what="timeMin") if call.param("timeMin") else None
        )
        time_max = (
            parse_rfc3339(call.param("timeMax") or "", what="timeMax") if call.param("timeMax") else None
        )
        if time_min is not None and time_max is not None and time_max <= time_min:
            raise bad_request(
                "The specified time range is empty.", reason="timeRangeEmpty", location="timeMax"
            )
        updated_min = (
            parse_rfc3339(call.param("updatedMin") or "", what="updatedMin")
            if call.param("updatedMin")
            else None
        )
        # The change number the listing started at: carried through the page tokens, so changes
        # made while a client pages are delivered by its next incremental sync.
        snapshot = int(page_state.get("s", self.change_number))
        items = self._listing(
            single=single,
            show_deleted=show_deleted or since is not None or updated_min is not None,
            since=since,
            time_min=time_min,
            time_max=time_max,
        )
        items = [item for item in items if self._matches(item, call, updated_min, show_deleted)]
        if order_by == "startTime":
            items.sort(
                key=lambda item: (
                    self._bounds(item)[0] if "start" in item else datetime.min.replace(tzinfo=UTC)
                )
            )
        elif order_by == "updated":
            items.sort(key=lambda item: str(item.get("updated", "")))
        size = call.integer("maxResults", DEFAULT_LIST_RESULTS, maximum=MAX_LIST_RESULTS, minimum=1)
        page = items[offset : offset + size]
        result: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"p{self.change_number}"',
            "summary": self.address,
            "description": "",
            "updated": rfc3339(self.clock()),
            "timeZone": self.time_zone,
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 10}],
        }
        if offset + size < len(items):
            next_page: dict[str, Any] = {"o": offset + size, "s": snapshot}
            if since is not None:
                next_page.update(e=self.token_epoch, n=since, single=single)
            result["nextPageToken"] = encode_token("cp.", next_page)
        else:
            result["nextSyncToken"] = encode_token(
                "cs.", {"e": self.token_epoch, "n": snapshot, "single": single}
            )
        result["items"] = [self._listed(item) for item in page]
        return result

    def _matches(
        self, item: dict[str, Any], call: Call, updated_min: datetime | None, show_deleted: bool
    ) -> bool:
        for scope, name in (("private", "privateExtendedProperty"), ("shared", "sharedExtendedProperty")):
            values = ((item.get("extendedProperties") or {}).get(scope)) or {}
            for condition in call.params(name):
                key, sep, wanted = condition.partition("=")
                if not sep:
                    raise bad_request(f"Invalid value for: {name}", location=name)
                if values.get(key) != wanted:
                    return False
        uid = call.param("iCalUID")
        if uid and item.get("iCalUID") != uid:
            return False
        if updated_min is not None:
            stamp = item.get("updated")
            if stamp is None or datetime.fromisoformat(str(stamp)) < updated_min:
                return False
        query = (call.param("q") or "").strip().lower()
        if query:
            text = " ".join(
                [str(item.get(k, "")) for k in ("summary", "description", "location")]
                + [
                    str(a.get("email", "")) + " " + str(a.get("displayName", ""))
                    for a in item.get("attendees", [])
                ]
            ).lower()
            if not all(word in text for word in query.split()):
                return False
        return True

    def _listed(self, item: dict[str, Any]) -> dict[str, Any]:
        """How an item appears in a list: cancelled ones are cut down to what Google guarantees."""
        if item.get("status") != "cancelled":
            return copy.deepcopy(item)
        cut: dict[str, Any] = {
            key: item[key] for key in ("kind", "etag", "id", "status", "updated") if key in item
        }
        for key in ("recurringEventId", "originalStartTime"):
            if key in item:
                cut[key] = copy.deepcopy(item[key])
        return cut


def _duplicate() -> GoogleApiError:
    return GoogleApiError(409, "duplicate", "The requested identifier already exists.")


# --- routes -------------------------------------------------------------------------------------


def routes(store: CalendarStore) -> list[Route]:
    """The Calendar methods the emulator answers, counted as 'calendar.<resource>.<method>'."""

    def check_calendar(call: Call) -> None:
        calendar_id = call["calendarId"]
        if calendar_id != "primary" and calendar_id.lower() != store.address.lower():
            raise GoogleApiError(404, "notFound", "Not Found")

    def log_send_updates(call: Call, method: str, event_id: str) -> None:
        choice = call.param("sendUpdates")
        if choice is None and call.param("sendNotifications") is not None:
            choice = "all" if call.flag("sendNotifications") else "none"
        if choice is not None and choice not in ("all", "externalOnly", "none"):
            raise bad_request(f"Invalid value for: sendUpdates ({choice})", location="sendUpdates")
        store.send_updates_log.append((method, event_id, choice))

    def check_if_match(call: Call, resource: dict[str, Any]) -> None:
        wanted = call.request.header("if-match")
        if wanted and wanted != "*" and wanted != resource.get("etag"):
            raise GoogleApiError(
                412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header"
            )

    def list_events(call: Call) -> Any:
        check_calendar(call)
        return store._list(call)

    def get_event(call: Call) -> Any:
        check_calendar(call)
        return copy.deepcopy(store._existing(call["eventId"]).resource)

    def insert_event(call: Call) -> Any:
        check_calendar(call)
        body = call.body()
        resource = store._insert(body)
        log_send_updates(call, "insert", resource["id"])
        return copy.deepcopy(resource)

    def change_event(call: Call, *, replace: bool) -> Any:
        check_calendar(call)
        event_id = call["eventId"]
        check_if_match(call, store._existing(event_id).resource)
        resource = store._patch(event_id, call.body(), replace=replace, from_client=True)
        log_send_updates(call, "update" if replace else "patch", event_id)
        return copy.deepcopy(resource)

    def delete_event(call: Call) -> Any:
        check_calendar(call)
        event_id = call["eventId"]
        stored = store._existing(event_id)
        if stored.cancelled:
            raise GoogleApiError(410, "deleted", "Resource has been deleted")
        check_if_match(call, stored.resource)
        resource = copy.deepcopy(stored.resource)
        resource["status"] = "cancelled"
        store._touch(resource)
        store._store(resource)
        log_send_updates(call, "delete", event_id)
        return no_content()

    def list_instances(call: Call) -> Any:
        check_calendar(call)
        master = store._existing(call["eventId"]).resource
        if not master.get("recurrence"):
            raise GoogleApiError(400, "invalid", "The event is not a recurring event.")
        show_deleted = call.flag("showDeleted")
        time_min = (
            parse_rfc3339(call.param("timeMin") or "", what="timeMin") if call.param("timeMin") else None
        )
        time_max = (
            parse_rfc3339(call.param("timeMax") or "", what="timeMax") if call.param("timeMax") else None
        )
        items = [
            i
            for i in store._instances(master, before=time_max)
            if (show_deleted or i.get("status") != "cancelled") and store._window(i, time_min, time_max)
        ]
        size = call.integer("maxResults", DEFAULT_LIST_RESULTS, maximum=MAX_LIST_RESULTS, minimum=1)
        offset, _ = page_offset(call, "ci.")
        result: dict[str, Any] = {
            "kind": "calendar#events",
            "timeZone": store.time_zone,
            "accessRole": "owner",
        }
        if offset + size < len(items):
            result["nextPageToken"] = encode_token("ci.", {"o": offset + size})
        result["items"] = [store._listed(i) for i in items[offset : offset + size]]
        return result

    def get_calendar(call: Call) -> Any:
        check_calendar(call)
        return {
            "kind": "calendar#calendar",
            "etag": '"sandbox"',
            "id": store.address,
            "summary": store.address,
            "timeZone": store.time_zone,
        }

    def get_setting(call: Call) -> Any:
        if call["setting"] != "timezone":
            raise GoogleApiError(404, "notFound", "Not Found")
        return {"kind": "calendar#setting", "etag": '"sandbox"', "id": "timezone", "value": store.time_zone}

    base = "/calendar/v3/calendars/{calendarId}"
    return [
        route("GET", f"{base}/events", "calendar.events.list", list_events),
        route("POST", f"{base}/events", "calendar.events.insert", insert_event),
        route("GET", f"{base}/events/{{eventId}}/instances", "calendar.events.instances", list_instances),
        route("GET", f"{base}/events/{{eventId}}", "calendar.events.get", get_event),
        route(
            "PATCH",
            f"{base}/events/{{eventId}}",
            "calendar.events.patch",
            lambda c: change_event(c, replace=False),
        ),
        route(
            "PUT",
            f"{base}/events/{{eventId}}",
            "calendar.events.update",
            lambda c: change_event(c, replace=True),
        ),
        route("DELETE", f"{base}/events/{{eventId}}", "calendar.events.delete", delete_event),
        route("GET", base, "calendar.calendars.get", get_calendar),
        route("GET", "/calendar/v3/users/me/settings/{setting}", "calendar.settings.get", get_setting),
    ]
