"""The Calendar methods the emulator answers (events, their instances, the calendar and its
time-zone setting), events.list with its sync tokens, page tokens, filters and ordering included."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from rgsync.sandbox.google.calendar.records import (
    DEFAULT_LIST_RESULTS,
    MAX_LIST_RESULTS,
    NOT_WITH_SYNC_TOKEN,
)
from rgsync.sandbox.google.calendar.store import CalendarStore
from rgsync.sandbox.google.common import (
    Call,
    GoogleApiError,
    Route,
    bad_request,
    decode_token,
    encode_token,
    no_content,
    page_offset,
    parse_rfc3339,
    rfc3339,
    route,
)


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
        return _events_list(store, call)

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
        result["items"] = [_listed(i) for i in items[offset : offset + size]]
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


def _events_list(store: CalendarStore, call: Call) -> dict[str, Any]:
    """events.list: a page of the listing the call asks for (full or incremental)."""
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
        if state.get("e") != store.token_epoch:
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
    time_min = parse_rfc3339(call.param("timeMin") or "", what="timeMin") if call.param("timeMin") else None
    time_max = parse_rfc3339(call.param("timeMax") or "", what="timeMax") if call.param("timeMax") else None
    if time_min is not None and time_max is not None and time_max <= time_min:
        raise bad_request("The specified time range is empty.", reason="timeRangeEmpty", location="timeMax")
    updated_min = (
        parse_rfc3339(call.param("updatedMin") or "", what="updatedMin") if call.param("updatedMin") else None
    )
    # The change number the listing started at: carried through the page tokens, so changes
    # made while a client pages are delivered by its next incremental sync.
    snapshot = int(page_state.get("s", store.change_number))
    items = store._listing(
        single=single,
        show_deleted=show_deleted or since is not None or updated_min is not None,
        since=since,
        time_min=time_min,
        time_max=time_max,
    )
    items = [item for item in items if _matches(item, call, updated_min, show_deleted)]
    if order_by == "startTime":
        items.sort(
            key=lambda item: store._bounds(item)[0] if "start" in item else datetime.min.replace(tzinfo=UTC)
        )
    elif order_by == "updated":
        items.sort(key=lambda item: str(item.get("updated", "")))
    size = call.integer("maxResults", DEFAULT_LIST_RESULTS, maximum=MAX_LIST_RESULTS, minimum=1)
    page = items[offset : offset + size]
    result: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": f'"p{store.change_number}"',
        "summary": store.address,
        "description": "",
        "updated": rfc3339(store.clock()),
        "timeZone": store.time_zone,
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 10}],
    }
    if offset + size < len(items):
        next_page: dict[str, Any] = {"o": offset + size, "s": snapshot}
        if since is not None:
            next_page.update(e=store.token_epoch, n=since, single=single)
        result["nextPageToken"] = encode_token("cp.", next_page)
    else:
        result["nextSyncToken"] = encode_token(
            "cs.", {"e": store.token_epoch, "n": snapshot, "single": single}
        )
    result["items"] = [_listed(item) for item in page]
    return result


def _matches(item: dict[str, Any], call: Call, updated_min: datetime | None, show_deleted: bool) -> bool:
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


def _listed(item: dict[str, Any]) -> dict[str, Any]:
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
