"""The events stream over Google Calendar v3: the primary calendar, occurrence by occurrence.

First listing: events.list with singleEvents=true (recurring series expanded, SPEC §4.1) and the
window as timeMin/timeMax; the last page's nextSyncToken is the cursor. Later: events.list with
that syncToken (timeMin/timeMax are not allowed with it, so changes outside the window come too:
the planner filters by window). Cancelled or deleted events come back with status 'cancelled' and
are reported as deleted ids. Google answers 410 for a sync token it dropped: full listing with
`reset`, diffed by the session (no duplicates, no mass deletes).

Down-synced Events (SPEC §4.3) are inserted, patched and deleted with sendUpdates='none', so no
attendee ever gets an invitation, and carry the Salesforce id in the private extended property
`rgsync_salesforce_id`. The event id is chosen by rgsync, derived from the Salesforce id
(base32hex), so an insert repeated after a lost response or a crash meets Google's 409 instead of
creating a second event, and is adopted.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rgsync.model import (
    Address,
    Attendee,
    CalendarItem,
    Create,
    Delete,
    Page,
    Response,
    ShowAs,
    Update,
    Write,
    WriteResult,
    day_start,
)
from rgsync.providers.base import ItemError, ProviderError
from rgsync.providers.google.api import GoogleApi, chunks

CALENDAR = "primary"
TAG = "rgsync_salesforce_id"
LIST_PAGE = 2500  # events.list maximum
_RESPONSES = {
    "accepted": Response.ACCEPTED,
    "tentative": Response.TENTATIVE,
    "declined": Response.DECLINED,
    "needsAction": Response.NONE,
}
_RESPONSE_STATUS = {
    Response.ACCEPTED: "accepted",
    Response.TENTATIVE: "tentative",
    Response.DECLINED: "declined",
    Response.NONE: "needsAction",
    Response.ORGANIZER: "accepted",
}
_TIME_FIELDS = ("start", "end", "all_day")
# Entries Google puts on the calendar that are no one's meeting or appointment.
NOT_CALENDAR_ITEMS = frozenset({"workingLocation", "birthday"})


def event_id_for(salesforce_id: str) -> str:
    """The Calendar event id rgsync gives the copy of a Salesforce Event: base32hex, lower-case.

    Calendar accepts client-chosen ids of [a-v0-9], 5 to 1024 characters; deriving it from the
    Salesforce id makes inserts idempotent (a repeated insert is refused as a duplicate).
    """
    encoded = base64.b32hexencode(f"rgsync:{salesforce_id}".encode()).decode("ascii")
    return encoded.rstrip("=").lower()


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class CalendarEvents:
    """The events stream of the primary calendar (see the module docstring)."""

    def __init__(
        self, api: GoogleApi, *, address: str, aliases: Collection[str], time_zone: str | None
    ) -> None:
        """`address`/`aliases` recognise the user among attendees; `time_zone` (IANA) is what
        timed events are written in (UTC when None)."""
        self.api = api
        self.me = {address.lower(), *(a.lower() for a in aliases)}
        self.time_zone = time_zone if time_zone and _known_zone(time_zone) else None

    @property
    def _events(self) -> Any:
        return self.api.resource("calendar", "events")

    # -- reading --------------------------------------------------------------------------------
    def _list(self, params: Mapping[str, Any], token: str | None) -> dict[str, Any]:
        request = self._events.list(
            calendarId=CALENDAR,
            singleEvents=True,
            showDeleted=True,
            maxResults=LIST_PAGE,
            pageToken=token,
            **params,
        )
        return dict(self.api.execute(request, "the calendar's events"))

    def changes(self, cursor: str | None, start: datetime, end: datetime) -> Iterator[Page]:
        """Pages of changed events since `cursor` (a sync token), or a full listing of the window."""
        reset = False
        if cursor:
            params: dict[str, Any] = {"syncToken": cursor}
            try:
                first = self._list(params, None)
            except ItemError as exc:
                if exc.code != "MAIL-GONE":
                    raise
                reset = True  # Google dropped the sync token (410): list everything again
            else:
                yield from self._pages(first, params, full=False, reset=False)
                return
        params = {
            "timeMin": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "timeMax": end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
        yield from self._pages(self._list(params, None), params, full=True, reset=reset)

    def _pages(
        self, response: dict[str, Any], params: Mapping[str, Any], *, full: bool, reset: bool
    ) -> Iterator[Page]:
        while True:
            token = response.get("nextPageToken")
            items: list[CalendarItem] = []
            deleted: list[str] = []
            for event in response.get("items", []):
                if event.get("status") == "cancelled":
                    if not full:
                        deleted.append(str(event["id"]))
                    continue  # a full listing says what exists: the cancelled simply are not there
                if event.get("eventType") in NOT_CALENDAR_ITEMS:
                    continue
                items.append(self.to_item(event))
            last = not token
            # Only the last page carries the sync token (Google's rule and the Page contract).
            cursor = str(response["nextSyncToken"]) if last and response.get("nextSyncToken") else None
            yield Page(
                items=tuple(items),
                deleted=tuple(deleted),
                cursor=cursor,
                full=full,
                last=last,
                reset=reset,
            )
            if last:
                return
            response = self._list(params, token)

    def to_item(self, event: Mapping[str, Any]) -> CalendarItem:
        """A Calendar event resource as a `CalendarItem` (SPEC §4: who, when, answers, privacy)."""
        start_spec = event.get("start") or {}
        end_spec = event.get("end") or {}
        unmapped = ""
        all_day = "date" in start_spec and "dateTime" not in start_spec
        if all_day:
            start = day_start(date.fromisoformat(str(start_spec["date"])))
            end = (
                day_start(date.fromisoformat(str(end_spec["date"])))
                if end_spec.get("date")
                else start + timedelta(days=1)
            )
        else:
            start = _parse_time(str(start_spec.get("dateTime")))
            end = _parse_time(str(end_spec.get("dateTime") or start_spec.get("dateTime")))
            zone_name = start_spec.get("timeZone") or event.get("timeZone")
            if zone_name:
                try:
                    zone = ZoneInfo(str(zone_name))
                except (ZoneInfoNotFoundError, ValueError):
                    unmapped = str(zone_name)
                else:
                    start, end = start.astimezone(zone), end.astimezone(zone)
        organizer_spec = event.get("organizer") or {}
        organizer = (
            Address(str(organizer_spec["email"]).lower(), str(organizer_spec.get("displayName") or ""))
            if organizer_spec.get("email")
            else None
        )
        attendees: list[Attendee] = []
        my_response: Response | None = None
        for spec in event.get("attendees") or ():
            if spec.get("resource") or not spec.get("email"):
                continue  # rooms and equipment are not people
            email = str(spec["email"]).lower()
            response = (
                Response.ORGANIZER
                if spec.get("organizer")
                else _RESPONSES.get(str(spec.get("responseStatus")), Response.NONE)
            )
            attendees.append(Attendee(Address(email, str(spec.get("displayName") or "")), response))
            if spec.get("self") or email in self.me:
                my_response = response
        if organizer_spec.get("self") or (organizer is not None and organizer.email in self.me):
            my_response = Response.ORGANIZER
        if my_response is None:
            # Not among the attendees and not the organizer: an item on the user's own calendar.
            my_response = Response.ORGANIZER if not attendees else Response.NONE
        private = dict((event.get("extendedProperties") or {}).get("private") or {})
        if event.get("eventType") == "outOfOffice":
            show_as = ShowAs.OUT_OF_OFFICE
        elif event.get("transparency") == "transparent":
            show_as = ShowAs.FREE
        else:
            show_as = ShowAs.BUSY
        updated = event.get("updated")
        return CalendarItem(
            id=str(event["id"]),
            subject=str(event.get("summary") or ""),
            start=start,
            end=end,
            all_day=all_day,
            location=str(event.get("location") or ""),
            show_as=show_as,
            description=str(event.get("description") or ""),
            private=event.get("visibility") in ("private", "confidential"),
            cancelled=event.get("status") == "cancelled",
            ical_uid=str(event.get("iCalUID") or ""),
            series_id=str(event.get("recurringEventId") or ""),
            organizer=organizer,
            attendees=tuple(attendees),
            my_response=my_response,
            salesforce_id=str(private[TAG]) if private.get(TAG) else None,
            timezone_unmapped=unmapped,
            last_modified=_parse_time(str(updated)) if updated else None,
        )

    # -- writing --------------------------------------------------------------------------------
    def _when(self, moment: datetime, all_day: bool) -> dict[str, Any]:
        if all_day:
            return {"date": moment.astimezone(UTC).date().isoformat(), "dateTime": None, "timeZone": None}
        if self.time_zone:
            return {
                "dateTime": moment.astimezone(ZoneInfo(self.time_zone)).isoformat(),
                "timeZone": self.time_zone,
                "date": None,
            }
        return {
            "dateTime": moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "timeZone": "UTC",
            "date": None,
        }

    @staticmethod
    def _attendees(
        attendees: Sequence[Attendee], current: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """Attendee resources; people already invited keep their answer (Google owns it)."""
        known = {str(a.get("email", "")).lower(): a for a in current}
        out = []
        for attendee in attendees:
            email = attendee.address.email.lower()
            spec: dict[str, Any] = {"email": email}
            if attendee.address.name:
                spec["displayName"] = attendee.address.name
            existing = known.get(email)
            if existing is not None and existing.get("responseStatus"):
                spec["responseStatus"] = existing["responseStatus"]
            else:
                spec["responseStatus"] = _RESPONSE_STATUS.get(attendee.response, "needsAction")
            out.append(spec)
        return out

    def body_for(self, item: CalendarItem) -> dict[str, Any]:
        """The event resource for a down-synced Salesforce Event (tagged, no organizer change)."""
        body: dict[str, Any] = {
            "summary": item.subject,
            "location": item.location,
            "description": item.description,
            "start": {k: v for k, v in self._when(item.start, item.all_day).items() if v is not None},
            "end": {k: v for k, v in self._when(item.end, item.all_day).items() if v is not None},
            "transparency": "transparent" if item.show_as is ShowAs.FREE else "opaque",
            "visibility": "private" if item.private else "default",
            "attendees": self._attendees(item.attendees),
        }
        if item.salesforce_id:
            body["extendedProperties"] = {"private": {TAG: item.salesforce_id}}
        return body

    def apply(self, writes: Sequence[Write], results: list[WriteResult | None]) -> None:
        """Carry out `writes`, filling `results` (same order) as each one completes.

        A failure of one event becomes its failed result; a transient failure propagates (the
        results filled so far stay, so a retry does not repeat them).
        """
        for n, write in enumerate(writes):
            if results[n] is not None:
                continue
            try:
                if isinstance(write, Create):
                    results[n] = self._create(write)
                elif isinstance(write, Update):
                    results[n] = self._update(write)
                elif isinstance(write, Delete):
                    results[n] = self._delete(write.id)
                else:  # pragma: no cover - Write is a closed union
                    results[n] = WriteResult(ok=False, error_code="MAIL-REFUSED", message="unknown write")
            except ItemError as exc:
                results[n] = WriteResult(ok=False, error_code=exc.code or "MAIL-REFUSED", message=exc.message)

    def _create(self, write: Create) -> WriteResult:
        item = write.record
        if not isinstance(item, CalendarItem):
            return WriteResult(
                ok=False,
                error_code="MAIL-REFUSED",
                message=f"cannot create {type(item).__name__} in the calendar",
            )
        body = self.body_for(item)
        salesforce_id = item.salesforce_id or write.key
        event_id = event_id_for(salesforce_id)
        body["id"] = event_id
        body.setdefault("extendedProperties", {"private": {TAG: salesforce_id}})
        insert = self._events.insert(calendarId=CALENDAR, body=body, sendUpdates="none")
        try:
            created = self.api.execute(insert, f"creating the event '{item.subject}'")
            return WriteResult(ok=True, id=str(created["id"]))
        except ItemError as exc:
            if exc.code != "MAIL-DUPLICATE":
                raise
        # The id is taken: an earlier attempt of this very insert got through. A copy the user
        # deleted since is brought back (Google keeps deleted ids), else it is adopted as is.
        current = self.api.execute(
            self._events.get(calendarId=CALENDAR, eventId=event_id), "the event just created"
        )
        if current.get("status") == "cancelled":
            body["status"] = "confirmed"
            restore = self._events.update(
                calendarId=CALENDAR, eventId=event_id, body=body, sendUpdates="none"
            )
            self.api.execute(restore, f"restoring the event '{item.subject}'")
        return WriteResult(ok=True, id=event_id)

    def _update(self, write: Update) -> WriteResult:
        changes = dict(write.changes)
        body: dict[str, Any] = {}
        current: dict[str, Any] | None = None
        if ("attendees" in changes) or (
            any(f in changes for f in _TIME_FIELDS) and not all(f in changes for f in _TIME_FIELDS)
        ):
            current = dict(
                self.api.execute(
                    self._events.get(calendarId=CALENDAR, eventId=write.id), "the event to change"
                )
            )
        if any(f in changes for f in _TIME_FIELDS):
            # Start, end and all-day go together: what did not change comes from the event itself.
            known = self.to_item(current) if current is not None else None
            all_day = bool(changes.get("all_day", known.all_day if known else False))
            start = changes.get("start", known.start if known else None)
            end = changes.get("end", known.end if known else None)
            if isinstance(start, datetime):
                body["start"] = self._when(start, all_day)
            if isinstance(end, datetime):
                body["end"] = self._when(end, all_day)
        simple = {"subject": "summary", "location": "location", "description": "description"}
        for name, target in simple.items():
            if name in changes:
                body[target] = str(changes[name] or "")
        if "show_as" in changes:
            body["transparency"] = "transparent" if changes["show_as"] == ShowAs.FREE else "opaque"
        if "private" in changes:
            body["visibility"] = "private" if changes["private"] else "default"
        if "attendees" in changes:
            attendees = changes["attendees"]
            body["attendees"] = self._attendees(
                tuple(attendees) if isinstance(attendees, (tuple, list)) else (),
                (current or {}).get("attendees") or (),
            )
        if "salesforce_id" in changes:
            value = changes["salesforce_id"]
            body["extendedProperties"] = {"private": {TAG: str(value) if value else None}}
        if not body:
            return WriteResult(ok=True, id=write.id)
        patch = self._events.patch(calendarId=CALENDAR, eventId=write.id, body=body, sendUpdates="none")
        self.api.execute(patch, "changing an event")
        return WriteResult(ok=True, id=write.id)

    def _delete(self, event_id: str) -> WriteResult:
        request = self._events.delete(calendarId=CALENDAR, eventId=event_id, sendUpdates="none")
        try:
            self.api.execute(request, "deleting an event")
        except ItemError as exc:
            # Already gone (404) or already deleted (410): the goal state holds.
            if exc.code not in ("MAIL-NOT-FOUND", "MAIL-GONE"):
                raise
        return WriteResult(ok=True, id=event_id)

    # -- crash recovery ---------------------------------------------------------------------------
    def find_tagged(self, salesforce_ids: Collection[str]) -> dict[str, str]:
        """Event ids of live events tagged with these Salesforce ids (privateExtendedProperty filter).

        One filtered events.list per id (the filter cannot OR), sent together in batches.
        """
        wanted = sorted(set(salesforce_ids))
        found: dict[str, str] = {}
        for group in chunks(wanted, 50):
            requests = {
                sid: self._events.list(
                    calendarId=CALENDAR,
                    privateExtendedProperty=f"{TAG}={sid}",
                    showDeleted=False,
                    maxResults=10,
                )
                for sid in group
            }
            for sid, response in self.api.batch("calendar", requests, "finding down-synced events").items():
                if isinstance(response, ProviderError):
                    raise response
                for event in response.get("items", []):
                    if event.get("status") != "cancelled":
                        found[sid] = str(event["id"])
                        break
        return found
