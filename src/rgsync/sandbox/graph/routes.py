"""The Graph v1.0 resources the adapter uses, one handler per route (mail, calendar and the user
here; contacts and To Do in `routes_people`).

Paths are matched after `/v1.0` and the mailbox prefix (`/me`, or `/users/{id|address}` for
app-only tokens) have been taken off, and OData key syntax (`mailFolders('inbox')`) has been turned
into plain segments. Each handler gets a `Call` (the request plus what the emulator worked out) and
returns a `Response` or raises `GraphError`.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rgsync.sandbox.graph import calendar as calendar_module
from rgsync.sandbox.graph.call import Call, has_property, ok, with_expanded
from rgsync.sandbox.graph.common import (
    ExtendedPropertyFilter,
    GraphError,
    Json,
    ReceivedFilter,
    expand_filter_id,
    expand_param,
    parse_filter,
    parse_offset_datetime,
    select,
    select_param,
)
from rgsync.sandbox.graph.delta import page_list
from rgsync.sandbox.graph.routes_people import PeopleRoutes
from rgsync.sandbox.http import Response

if TYPE_CHECKING:
    from rgsync.sandbox.graph.state import GraphState


_UNKNOWN = object()  # not matched yet (None is a remembered "no route")
_NOT_SUPPORTED_ON_VIEW = ("$orderby", "$filter", "$select", "$expand", "$search", "$top")


class GraphApi(PeopleRoutes):
    """The handlers, bound to the emulator's state."""

    def __init__(self, state: GraphState) -> None:
        self.state = state
        self.routes: list[tuple[str, re.Pattern[str], str, Callable[[Call], Response]]] = []
        s = r"([^/]+)"
        table: list[tuple[str, str, str, Callable[[Call], Response]]] = [
            ("GET", r"", "graph.me", self.me),
            ("GET", r"/mailboxSettings", "graph.mailboxSettings", self.mailbox_settings),
            ("GET", rf"/mailFolders/{s}", "graph.mailFolders.get", self.mail_folder),
            ("GET", rf"/mailFolders/{s}/messages/delta", "graph.messages.delta", self.messages_delta),
            ("GET", rf"/mailFolders/{s}/messages", "graph.messages.list", self.messages_list),
            ("GET", rf"/messages/{s}/\$value", "graph.message.value", self.message_value),
            ("POST", rf"/messages/{s}/move", "graph.message.move", self.message_move),
            ("GET", rf"/messages/{s}", "graph.message.get", self.message_get),
            ("PATCH", rf"/messages/{s}", "graph.message.patch", self.message_patch),
            ("DELETE", rf"/messages/{s}", "graph.message.delete", self.message_delete),
            ("GET", r"/calendar", "graph.calendar.get", self.calendar),
            (
                "GET",
                r"(?:/calendar)?/calendarView/delta",
                "graph.calendarView.delta",
                self.calendar_view_delta,
            ),
            ("GET", r"(?:/calendar)?/events", "graph.events.list", self.events_list),
            ("POST", r"(?:/calendar)?/events", "graph.events.create", self.events_create),
            ("GET", rf"(?:/calendar)?/events/{s}", "graph.event.get", self.event_get),
            ("PATCH", rf"(?:/calendar)?/events/{s}", "graph.event.patch", self.event_patch),
            ("DELETE", rf"(?:/calendar)?/events/{s}", "graph.event.delete", self.event_delete),
            ("GET", r"/contactFolders", "graph.contactFolders.list", self.contact_folders),
            ("POST", r"/contactFolders", "graph.contactFolders.create", self.contact_folder_create),
            ("GET", rf"/contactFolders/{s}", "graph.contactFolders.get", self.contact_folder),
            ("GET", rf"/contactFolders/{s}/contacts/delta", "graph.contacts.delta", self.contacts_delta),
            ("GET", rf"/contactFolders/{s}/contacts", "graph.contacts.list", self.contacts_list),
            ("POST", rf"/contactFolders/{s}/contacts", "graph.contacts.create", self.contacts_create),
            ("GET", rf"/contactFolders/{s}/contacts/{s}", "graph.contact.get", self.contact_get),
            ("PATCH", rf"/contactFolders/{s}/contacts/{s}", "graph.contact.patch", self.contact_patch),
            ("DELETE", rf"/contactFolders/{s}/contacts/{s}", "graph.contact.delete", self.contact_delete),
            ("GET", r"/contacts", "graph.contacts.list", self.contacts_list),
            ("POST", r"/contacts", "graph.contacts.create", self.contacts_create),
            ("GET", rf"/contacts/{s}", "graph.contact.get", self.contact_get),
            ("PATCH", rf"/contacts/{s}", "graph.contact.patch", self.contact_patch),
            ("DELETE", rf"/contacts/{s}", "graph.contact.delete", self.contact_delete),
            ("GET", r"/todo/lists", "graph.todoLists.list", self.todo_lists),
            ("POST", r"/todo/lists", "graph.todoLists.create", self.todo_list_create),
            ("GET", rf"/todo/lists/{s}", "graph.todoLists.get", self.todo_list),
            ("GET", rf"/todo/lists/{s}/tasks/delta", "graph.tasks.delta", self.tasks_delta),
            ("GET", rf"/todo/lists/{s}/tasks", "graph.tasks.list", self.tasks_list),
            ("POST", rf"/todo/lists/{s}/tasks", "graph.tasks.create", self.tasks_create),
            (
                "GET",
                rf"/todo/lists/{s}/tasks/{s}/linkedResources",
                "graph.task.linkedResources",
                self.task_links,
            ),
            ("GET", rf"/todo/lists/{s}/tasks/{s}", "graph.task.get", self.task_get),
            ("PATCH", rf"/todo/lists/{s}/tasks/{s}", "graph.task.patch", self.task_patch),
            ("DELETE", rf"/todo/lists/{s}/tasks/{s}", "graph.task.delete", self.task_delete),
        ]
        for method, pattern, name, handler in table:
            self.routes.append((method, re.compile(f"^{pattern}/?$"), name, handler))
        self._matched: dict[
            tuple[str, str], tuple[str, Callable[[Call], Response], tuple[str, ...]] | None
        ] = {}

    def match(self, method: str, path: str) -> tuple[str, Callable[[Call], Response], tuple[str, ...]] | None:
        """The route for a method and mailbox-relative path: (name, handler, path groups)."""
        # Each call is matched twice (its route name for the counters, then its answer), so the
        # last answers are kept; the routes never change once the table is built.
        key = (method, path)
        known = self._matched.get(key, _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        found_route = None
        for route_method, pattern, name, handler in self.routes:
            found = pattern.match(path)
            if found and route_method == method:
                found_route = name, handler, tuple(found.groups())
                break
        if len(self._matched) >= 256:
            self._matched.clear()
        self._matched[key] = found_route
        return found_route

    def known_path(self, path: str) -> bool:
        """True when some route has this path (so a wrong method is a 405, not a 400)."""
        return any(pattern.match(path) for _m, pattern, _n, _h in self.routes)

    # -- the user --------------------------------------------------------------------------------
    def me(self, call: Call) -> Response:
        """GET /me."""
        identity = self.state.identity
        given, _, surname = identity.name.partition(" ")
        return ok(
            {
                "@odata.context": f"{call.base}/v1.0/$metadata#users/$entity",
                "businessPhones": [],
                "displayName": identity.name,
                "givenName": given,
                "jobTitle": None,
                "mail": identity.address,
                "mobilePhone": None,
                "officeLocation": None,
                "preferredLanguage": "en-US",
                "surname": surname,
                "userPrincipalName": identity.address,
                "id": identity.user_id,
            }
        )

    def mailbox_settings(self, call: Call) -> Response:
        """GET /me/mailboxSettings."""
        return ok(
            {
                "timeZone": self.state.time_zone,
                "language": {"locale": "en-US", "displayName": "English (United States)"},
                "userPurpose": "user",
            }
        )

    # -- mail ------------------------------------------------------------------------------------
    def mail_folder(self, call: Call) -> Response:
        """GET /me/mailFolders/{id}."""
        key = self.state.mail.folder_key(call.groups[0])
        return ok(select(self.state.mail.folder_resource(key), select_param(call.request.query)))

    def _message_json(self, call: Call, stored: Any, expand: dict[str, str | None]) -> Json:
        return self._render_message(
            stored,
            immutable=call.prefs.immutable_ids,
            expand=expand,
            fields=select_param(call.request.query),
            body_text=call.prefs.body_text,
        )

    def _render_message(
        self,
        stored: Any,
        *,
        immutable: bool,
        expand: dict[str, str | None],
        fields: list[str] | None,
        body_text: bool,
    ) -> Json:
        extended = "singleValueExtendedProperties" in expand
        wanted = expand_filter_id(expand.get("singleValueExtendedProperties")) if extended else None
        body = self.state.mail.render(stored, immutable=immutable, expand_property=wanted, expand=extended)
        if body_text and body.get("body", {}).get("contentType") == "html":
            body["body"] = {"contentType": "text", "content": _html_text(body["body"]["content"])}
        return select(body, None if fields is None else [*fields, *expand.keys()])

    def messages_delta(self, call: Call) -> Response:
        """GET /me/mailFolders/{id}/messages/delta."""
        mail = self.state.mail
        query = call.request.query
        folder = mail.folder_key(call.groups[0])
        since: ReceivedFilter | None = None
        for text in query.get("$filter", []):
            parsed = parse_filter(text)
            if not isinstance(parsed, ReceivedFilter):
                raise GraphError(
                    400,
                    "ErrorInvalidUrlQueryFilter",
                    "The only supported $filter on message delta is receivedDateTime ge|gt {value}.",
                )
            since = parsed
        options = {
            "folder": folder,
            "select": select_param(query),
            "expand": expand_param(query),
            "since": None if since is None else (since.since.isoformat(), since.inclusive),
            "text": call.prefs.body_text,
        }
        immutable = call.prefs.immutable_ids

        def rows(position: int | None, opts: dict[str, Any]) -> list[Json]:
            key = opts["folder"]
            window = opts["since"]

            def visible(stored: Any) -> bool:
                if stored is None or stored.folder != key:
                    return False
                if window is None:
                    return True
                received = parse_offset_datetime(str(stored.resource.get("receivedDateTime")))
                threshold = datetime.fromisoformat(window[0])
                return received >= threshold if window[1] else received > threshold

            def render(stored: Any) -> Json:
                # Rows keep immutable ids; they are put in the caller's id form when served.
                return self._render_message(
                    stored,
                    immutable=True,
                    expand=opts["expand"],
                    fields=opts["select"],
                    body_text=opts["text"],
                )

            if position is None:
                return [render(m) for m in mail.in_folder(key) if visible(m)]
            out: list[Json] = []
            for message_id, before in self.state.log.changed_since(mail.collection(key), position).items():
                current = mail.messages.get(message_id)
                if visible(current):
                    out.append(render(current))
                elif before is not None:
                    out.append(
                        {
                            "@odata.type": "#microsoft.graph.message",
                            "id": message_id,
                            "@removed": {"reason": "deleted"},
                        }
                    )
            return out

        body = self.state.rounds.serve(
            base=call.base,
            path=call.full_path,
            query=query,
            collection=mail.collection(folder),
            options=options,
            rows=rows,
            page_size=call.prefs.max_page_size,
        )
        if not immutable:
            for row in body["value"]:
                stored = mail.messages.get(row["id"])
                if stored is not None:
                    row["id"] = stored.rest_id
        return ok(body)

    def messages_list(self, call: Call) -> Response:
        """GET /me/mailFolders/{id}/messages."""
        mail = self.state.mail
        folder = mail.folder_key(call.groups[0])
        expand = expand_param(call.request.query)
        items = [self._message_json(call, m, expand) for m in mail.in_folder(folder)]
        return ok(page_list(call.base, call.full_path, call.request.query, items, call.prefs.max_page_size))

    def message_get(self, call: Call) -> Response:
        """GET /me/messages/{id}."""
        stored = self.state.mail.resolve(call.groups[0])
        return ok(self._message_json(call, stored, expand_param(call.request.query)))

    def message_value(self, call: Call) -> Response:
        """GET /me/messages/{id}/$value."""
        return Response(200, self.state.mail.mime(call.groups[0]), content_type="text/plain")

    def message_patch(self, call: Call) -> Response:
        """PATCH /me/messages/{id}."""
        stored = self.state.mail.update(call.groups[0], call.json())
        return ok(self._message_json(call, stored, {}))

    def message_move(self, call: Call) -> Response:
        """POST /me/messages/{id}/move."""
        destination = str(call.json().get("destinationId") or "")
        stored = self.state.mail.move(call.groups[0], destination)
        return ok(self._message_json(call, stored, {}), 201)

    def message_delete(self, call: Call) -> Response:
        """DELETE /me/messages/{id}."""
        self.state.mail.delete(call.groups[0])
        return Response(204)

    # -- calendar --------------------------------------------------------------------------------
    def calendar(self, call: Call) -> Response:
        """GET /me/calendar."""
        cal = self.state.calendar
        return ok(
            {
                "id": cal.calendar_id,
                "name": "Calendar",
                "color": "auto",
                "isDefaultCalendar": True,
                "canEdit": True,
                "canShare": True,
                "canViewPrivateItems": True,
                "owner": {"name": self.state.identity.name, "address": self.state.identity.address},
            }
        )

    def calendar_view_delta(self, call: Call) -> Response:
        """GET /me/calendarView/delta?startDateTime=…&endDateTime=… (also under /me/calendar)."""
        query = call.request.query
        refused = [p for p in _NOT_SUPPORTED_ON_VIEW if p in query]
        if refused:
            raise GraphError(
                400,
                "ErrorInvalidUrlQuery",
                f"The following parameters are not supported with change tracking over the 'CalendarView' resource: '{', '.join(refused)}'.",
            )
        options: dict[str, Any] = {"timeZone": call.prefs.time_zone}
        if "$deltatoken" not in query and "$skiptoken" not in query:
            start = call.request.param("startDateTime") or call.request.param("startdatetime")
            end = call.request.param("endDateTime") or call.request.param("enddatetime")
            if not start or not end:
                raise GraphError(
                    400,
                    "ErrorInvalidParameter",
                    "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
                )
            try:
                options["start"] = parse_offset_datetime(start).isoformat()
                options["end"] = parse_offset_datetime(end).isoformat()
            except ValueError:
                raise GraphError(
                    400, "ErrorInvalidParameter", "StartDateTime and EndDateTime must be ISO 8601 date-times."
                ) from None
        cal = self.state.calendar

        def rows(position: int | None, opts: dict[str, Any]) -> list[Json]:
            return cal.view_rows(
                position,
                datetime.fromisoformat(opts["start"]),
                datetime.fromisoformat(opts["end"]),
                call.prefs.time_zone,
            )

        body = self.state.rounds.serve(
            base=call.base,
            path=call.full_path,
            query=query,
            collection=calendar_module.COLLECTION,
            options=options,
            rows=rows,
            page_size=call.prefs.max_page_size,
        )
        return ok(body)

    def _event_expand(self, call: Call) -> tuple[str | None, bool]:
        expand = expand_param(call.request.query)
        if "singleValueExtendedProperties" not in expand:
            return None, False
        return expand_filter_id(expand["singleValueExtendedProperties"]), True

    def events_list(self, call: Call) -> Response:
        """GET /me/events."""
        cal = self.state.calendar
        wanted, expand = self._event_expand(call)
        events = list(cal.all_events())
        for text in call.request.query.get("$filter", []):
            parsed = parse_filter(text)
            if not isinstance(parsed, ExtendedPropertyFilter):
                raise GraphError(
                    400, "ErrorInvalidUrlQueryFilter", "This $filter is not supported on events here."
                )
            events = [e for e in events if has_property(e.extended, parsed)]
        items = [
            select(
                cal.render(e, call.prefs.time_zone, expand_property=wanted, expand=expand),
                with_expanded(select_param(call.request.query), expand),
            )
            for e in events
        ]
        return ok(page_list(call.base, call.full_path, call.request.query, items, call.prefs.max_page_size))

    def events_create(self, call: Call) -> Response:
        """POST /me/events."""
        stored, _created = self.state.calendar.create(call.json(), method="POST", path=call.request.path)
        return ok(self.state.calendar.render(stored, call.prefs.time_zone), 201)

    def event_get(self, call: Call) -> Response:
        """GET /me/events/{id}."""
        cal = self.state.calendar
        stored, original = cal.resolve(call.groups[0])
        wanted, expand = self._event_expand(call)
        if original is not None:
            body = cal.render_instance(cal.instance_at(stored, original), call.prefs.time_zone)
        else:
            body = cal.render(stored, call.prefs.time_zone, expand_property=wanted, expand=expand)
        return ok(select(body, with_expanded(select_param(call.request.query), expand)))

    def event_patch(self, call: Call) -> Response:
        """PATCH /me/events/{id}."""
        cal = self.state.calendar
        stored = cal.update(call.groups[0], call.json(), method="PATCH", path=call.request.path)
        return ok(cal.render(stored, call.prefs.time_zone))

    def event_delete(self, call: Call) -> Response:
        """DELETE /me/events/{id}."""
        self.state.calendar.delete(call.groups[0], method="DELETE", path=call.request.path)
        return Response(204)


def _html_text(html_text: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", html_text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).strip()


def batch_body(response: Response) -> Any:
    """A sub-response body as `$batch` carries it: JSON as is, anything else base64-encoded."""
    if response.body is None:
        return None
    if response.content_type.startswith("application/json"):
        if isinstance(response.body, bytes | str):
            return json.loads(response.body)
        return response.body
    return base64.b64encode(response.encoded()).decode("ascii")
