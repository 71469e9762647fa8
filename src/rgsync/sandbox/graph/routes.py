"""The Graph v1.0 resources the adapter uses, one handler per route.

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
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rgsync.sandbox.graph import calendar as calendar_module
from rgsync.sandbox.graph.common import (
    EqualsFilter,
    ExtendedPropertyFilter,
    GraphError,
    Json,
    Preferences,
    ReceivedFilter,
    expand_filter_id,
    expand_param,
    parse_filter,
    parse_offset_datetime,
    select,
    select_param,
)
from rgsync.sandbox.graph.delta import page_list
from rgsync.sandbox.http import Request, Response

if TYPE_CHECKING:
    from rgsync.sandbox.graph.state import GraphState


@dataclass
class Call:
    """One Graph request as the handlers see it."""

    request: Request
    path: str  # after the mailbox prefix, e.g. '/events/AAMk…'
    full_path: str  # the request path as sent, for next/delta links
    base: str  # 'https://127.0.0.1:PORT'
    prefs: Preferences
    app_only: bool
    groups: tuple[str, ...] = ()

    def json(self) -> Json:
        """The request body as a JSON object; Graph's 400 when it is not one."""
        try:
            body = self.request.json()
        except (ValueError, UnicodeDecodeError):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.") from None
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
        return body


Handler = Callable[["GraphApi", Call], Response]


def _ok(body: Any, status: int = 200) -> Response:
    return Response(status, body)


_NOT_SUPPORTED_ON_VIEW = ("$orderby", "$filter", "$select", "$expand", "$search", "$top")


class GraphApi:
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
            ("GET", r"(?:/calendar)?/calendarView/delta", "graph.calendarView.delta", self.calendar_view_delta),
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
            ("GET", rf"/todo/lists/{s}/tasks/{s}/linkedResources", "graph.task.linkedResources", self.task_links),
            ("GET", rf"/todo/lists/{s}/tasks/{s}", "graph.task.get", self.task_get),
            ("PATCH", rf"/todo/lists/{s}/tasks/{s}", "graph.task.patch", self.task_patch),
            ("DELETE", rf"/todo/lists/{s}/tasks/{s}", "graph.task.delete", self.task_delete),
        ]
        for method, pattern, name, handler in table:
            self.routes.append((method, re.compile(f"^{pattern}/?$"), name, handler))

    def match(self, method: str, path: str) -> tuple[str, Callable[[Call], Response], tuple[str, ...]] | None:
        """The route for a method and mailbox-relative path: (name, handler, path groups)."""
        for route_method, pattern, name, handler in self.routes:
            found = pattern.match(path)
            if found and route_method == method:
                return name, handler, tuple(found.groups())
        return None

    def known_path(self, path: str) -> bool:
        """True when some route has this path (so a wrong method is a 405, not a 400)."""
        return any(pattern.match(path) for _m, pattern, _n, _h in self.routes)

    # -- the user --------------------------------------------------------------------------------
    def me(self, call: Call) -> Response:
        identity = self.state.identity
        given, _, surname = identity.name.partition(" ")
        return _ok(
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
        return _ok({"timeZone": self.state.time_zone, "language": {"locale": "en-US", "displayName": "English (United States)"}, "userPurpose": "user"})

    # -- mail ------------------------------------------------------------------------------------
    def mail_folder(self, call: Call) -> Response:
        key = self.state.mail.folder_key(call.groups[0])
        return _ok(select(self.state.mail.folder_resource(key), select_param(call.request.query)))

    def _message_json(self, call: Call, stored: Any, expand: dict[str, str | None]) -> Json:
        return self._render_message(
            stored,
            immutable=call.prefs.immutable_ids,
            expand=expand,
            fields=select_param(call.request.query),
            body_text=call.prefs.body_text,
        )

    def _render_message(
        self, stored: Any, *, immutable: bool, expand: dict[str, str | None], fields: list[str] | None, body_text: bool
    ) -> Json:
        extended = "singleValueExtendedProperties" in expand
        wanted = expand_filter_id(expand.get("singleValueExtendedProperties")) if extended else None
        body = self.state.mail.render(stored, immutable=immutable, expand_property=wanted, expand=extended)
        if body_text and body.get("body", {}).get("contentType") == "html":
            body["body"] = {"contentType": "text", "content": _html_text(body["body"]["content"])}
        return select(body, None if fields is None else [*fields, *expand.keys()])

    def messages_delta(self, call: Call) -> Response:
        mail = self.state.mail
        query = call.request.query
        folder = mail.folder_key(call.groups[0])
        since: ReceivedFilter | None = None
        for text in query.get("$filter", []):
            parsed = parse_filter(text)
            if not isinstance(parsed, ReceivedFilter):
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", "The only supported $filter on message delta is receivedDateTime ge|gt {value}.")
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
                    stored, immutable=True, expand=opts["expand"], fields=opts["select"], body_text=opts["text"]
                )

            if position is None:
                return [render(m) for m in mail.in_folder(key) if visible(m)]
            out: list[Json] = []
            for message_id, before in self.state.log.changed_since(mail.collection(key), position).items():
                current = mail.messages.get(message_id)
                if visible(current):
                    out.append(render(current))
                elif before is not None:
                    out.append({"@odata.type": "#microsoft.graph.message", "id": message_id, "@removed": {"reason": "deleted"}})
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
        return _ok(body)

    def messages_list(self, call: Call) -> Response:
        mail = self.state.mail
        folder = mail.folder_key(call.groups[0])
        expand = expand_param(call.request.query)
        items = [self._message_json(call, m, expand) for m in mail.in_folder(folder)]
        return _ok(page_list(call.base, call.full_path, call.request.query, items, call.prefs.max_page_size))

    def message_get(self, call: Call) -> Response:
        stored = self.state.mail.resolve(call.groups[0])
        return _ok(self._message_json(call, stored, expand_param(call.request.query)))

    def message_value(self, call: Call) -> Response:
        return Response(200, self.state.mail.mime(call.groups[0]), content_type="text/plain")

    def message_patch(self, call: Call) -> Response:
        stored = self.state.mail.update(call.groups[0], call.json())
        return _ok(self._message_json(call, stored, {}))

    def message_move(self, call: Call) -> Response:
        destination = str(call.json().get("destinationId") or "")
        stored = self.state.mail.move(call.groups[0], destination)
        return _ok(self._message_json(call, stored, {}), 201)

    def message_delete(self, call: Call) -> Response:
        self.state.mail.delete(call.groups[0])
        return Response(204)

    # -- calendar --------------------------------------------------------------------------------
    def calendar(self, call: Call) -> Response:
        cal = self.state.calendar
        return _ok(
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
                raise GraphError(400, "ErrorInvalidParameter", "StartDateTime and EndDateTime must be ISO 8601 date-times.") from None
        cal = self.state.calendar

        def rows(position: int | None, opts: dict[str, Any]) -> list[Json]:
            return cal.view_rows(
                position, datetime.fromisoformat(opts["start"]), datetime.fromisoformat(opts["end"]), call.prefs.time_zone
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
        return _ok(body)

    def _event_expand(self, call: Call) -> tuple[str | None, bool]:
        expand = expand_param(call.request.query)
        if "singleValueExtendedProperties" not in expand:
            return None, False
        return expand_filter_id(expand["singleValueExtendedProperties"]), True

    def events_list(self, call: Call) -> Response:
        cal = self.state.calendar
        wanted, expand = self._event_expand(call)
        events = list(cal.all_events())
        for text in call.request.query.get("$filter", []):
            parsed = parse_filter(text)
            if not isinstance(parsed, ExtendedPropertyFilter):
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", "This $filter is not supported on events here.")
            events = [e for e in events if _has_property(e.extended, parsed)]
        items = [
            select(cal.render(e, call.prefs.time_zone, expand_property=wanted, expand=expand), _with(select_param(call.request.query), expand))
            for e in events
        ]
        return _ok(page_list(call.base, call.full_path, call.request.query, items, call.prefs.max_page_size))

    def events_create(self, call: Call) -> Response:
        stored, _created = self.state.calendar.create(call.json(), method="POST", path=call.request.path)
        return _ok(self.state.calendar.render(stored, call.prefs.time_zone), 201)

    def event_get(self, call: Call) -> Response:
        cal = self.state.calendar
        stored, original = cal.resolve(call.groups[0])
        wanted, expand = self._event_expand(call)
        if original is not None:
            body = cal.render_instance(cal.instance_at(stored, original), call.prefs.time_zone)
        else:
            body = cal.render(stored, call.prefs.time_zone, expand_property=wanted, expand=expand)
        return _ok(select(body, _with(select_param(call.request.query), expand)))

    def event_patch(self, call: Call) -> Response:
        cal = self.state.calendar
        stored = cal.update(call.groups[0], call.json(), method="PATCH", path=call.request.path)
        return _ok(cal.render(stored, call.prefs.time_zone))

    def event_delete(self, call: Call) -> Response:
        self.state.calendar.delete(call.groups[0], method="DELETE", path=call.request.path)
        return Response(204)

    # -- contacts --------------------------------------------------------------------------------
    def contact_folders(self, call: Call) -> Response:
        people = self.state.people
        folders = list(people.folders.values())
        for text in call.request.query.get("$filter", []):
            parsed = parse_filter(text)
            if not isinstance(parsed, EqualsFilter) or parsed.name != "displayName":
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", "Only displayName eq '…' is supported on contact folders here.")
            folders = [f for f in folders if f["displayName"] == parsed.value]
        return _ok(page_list(call.base, call.full_path, call.request.query, [dict(f) for f in folders], call.prefs.max_page_size))

    def contact_folder_create(self, call: Call) -> Response:
        return _ok(self.state.people.create_folder(call.json()), 201)

    def contact_folder(self, call: Call) -> Response:
        people = self.state.people
        folder_id = people.folder_id(call.groups[0])
        if folder_id == people.root_id:
            return _ok({"id": folder_id, "displayName": "Contacts", "parentFolderId": None})
        return _ok(dict(people.folders[folder_id]))

    def _contact_location(self, call: Call) -> tuple[str | None, str | None]:
        """(folder, contact id) from the path: `/contactFolders/{f}/contacts[/{c}]` or `/contacts[/{c}]`."""
        if call.path.startswith("/contactFolders/"):
            return call.groups[0], call.groups[1] if len(call.groups) > 1 else None
        return None, call.groups[0] if call.groups else None

    def contacts_delta(self, call: Call) -> Response:
        people = self.state.people
        query = call.request.query
        refused = [p for p in ("$filter", "$expand", "$orderby", "$search") if p in query]
        if refused:
            raise GraphError(
                400,
                "ErrorInvalidUrlQuery",
                f"The following parameters are not supported with change tracking over the 'Contacts' resource: '{', '.join(refused)}'.",
            )
        folder_id = people.folder_id(call.groups[0])
        options = {"folder": folder_id, "select": select_param(query)}

        def rows(position: int | None, opts: dict[str, Any]) -> list[Json]:
            fid = opts["folder"]
            if position is None:
                return [select(people.render(c), opts["select"]) for c in people.in_folder(fid)]
            out: list[Json] = []
            for contact_id, before in self.state.log.changed_since(people.collection(fid), position).items():
                current = people.contacts.get(contact_id)
                if current is not None and current.folder_id == fid:
                    out.append(select(people.render(current), opts["select"]))
                elif before is not None:
                    out.append({"@odata.type": "#microsoft.graph.contact", "id": contact_id, "@removed": {"reason": "deleted"}})
            return out

        return _ok(
            self.state.rounds.serve(
                base=call.base,
                path=call.full_path,
                query=query,
                collection=people.collection(folder_id),
                options=options,
                rows=rows,
                page_size=call.prefs.max_page_size,
            )
        )

    def contacts_list(self, call: Call) -> Response:
        people = self.state.people
        folder, _ = self._contact_location(call)
        folder_id = people.folder_id(folder or "contacts")
        expand = expand_param(call.request.query)
        wanted = expand_filter_id(expand.get("singleValueExtendedProperties")) if "singleValueExtendedProperties" in expand else None
        contacts = people.in_folder(folder_id)
        for text in call.request.query.get("$filter", []):
            parsed = parse_filter(text)
            if not isinstance(parsed, ExtendedPropertyFilter):
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", "This $filter is not supported on contacts here.")
            contacts = [c for c in contacts if _has_property(c.extended, parsed)]
        items = [
            select(people.render(c, expand_property=wanted, expand="singleValueExtendedProperties" in expand), _with(select_param(call.request.query), bool(expand)))
            for c in contacts
        ]
        return _ok(page_list(call.base, call.full_path, call.request.query, items, call.prefs.max_page_size))

    def contacts_create(self, call: Call) -> Response:
        folder, _ = self._contact_location(call)
        stored = self.state.people.create(folder or "contacts", call.json())
        return _ok(self.state.people.render(stored), 201)

    def contact_get(self, call: Call) -> Response:
        people = self.state.people
        folder, contact_id = self._contact_location(call)
        stored = people.resolve(contact_id or "", folder)
        expand = expand_param(call.request.query)
        wanted = expand_filter_id(expand.get("singleValueExtendedProperties")) if "singleValueExtendedProperties" in expand else None
        body = people.render(stored, expand_property=wanted, expand="singleValueExtendedProperties" in expand)
        return _ok(select(body, _with(select_param(call.request.query), bool(expand))))

    def contact_patch(self, call: Call) -> Response:
        folder, contact_id = self._contact_location(call)
        stored = self.state.people.update(contact_id or "", call.json(), folder)
        return _ok(self.state.people.render(stored))

    def contact_delete(self, call: Call) -> Response:
        folder, contact_id = self._contact_location(call)
        self.state.people.delete(contact_id or "", folder)
        return Response(204)

    # -- To Do -----------------------------------------------------------------------------------
    def todo_lists(self, call: Call) -> Response:
        lists = [dict(v) for v in self.state.todo.lists.values()]
        return _ok(page_list(call.base, call.full_path, call.request.query, lists, call.prefs.max_page_size, default=100))

    def todo_list_create(self, call: Call) -> Response:
        return _ok(self.state.todo.create_list(call.json()), 201)

    def todo_list(self, call: Call) -> Response:
        todo = self.state.todo
        return _ok(dict(todo.lists[todo.list_id(call.groups[0])]))

    def tasks_delta(self, call: Call) -> Response:
        todo = self.state.todo
        query = call.request.query
        list_id = todo.list_id(call.groups[0])
        expand = expand_param(query)
        unknown = [name for name in expand if name not in ("linkedResources", "checklistItems", "extensions")]
        if unknown:
            raise GraphError(400, "BadRequest", f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.todoTask'.")
        options = {"list": list_id, "select": select_param(query), "links": "linkedResources" in expand}

        def rows(position: int | None, opts: dict[str, Any]) -> list[Json]:
            lid = opts["list"]
            fields = None if opts["select"] is None else [*opts["select"], *(["linkedResources"] if opts["links"] else [])]
            if position is None:
                return [select(todo.render(t, expand_links=opts["links"]), fields) for t in todo.in_list(lid)]
            out: list[Json] = []
            for task_id, before in self.state.log.changed_since(todo.collection(lid), position).items():
                current = todo.tasks.get(task_id)
                if current is not None and current.list_id == lid:
                    out.append(select(todo.render(current, expand_links=opts["links"]), fields))
                elif before is not None:
                    out.append({"@odata.type": "#microsoft.graph.todoTask", "id": task_id, "@removed": {"reason": "deleted"}})
            return out

        return _ok(
            self.state.rounds.serve(
                base=call.base,
                path=call.full_path,
                query=query,
                collection=todo.collection(list_id),
                options=options,
                rows=rows,
                page_size=call.prefs.max_page_size,
            )
        )

    def tasks_list(self, call: Call) -> Response:
        todo = self.state.todo
        list_id = todo.list_id(call.groups[0])
        links = "linkedResources" in expand_param(call.request.query)
        items = [select(todo.render(t, expand_links=links), _with(select_param(call.request.query), links, "linkedResources")) for t in todo.in_list(list_id)]
        return _ok(page_list(call.base, call.full_path, call.request.query, items, call.prefs.max_page_size))

    def tasks_create(self, call: Call) -> Response:
        stored = self.state.todo.create(call.groups[0], call.json())
        return _ok(self.state.todo.render(stored, expand_links=bool(stored.linked)), 201)

    def task_get(self, call: Call) -> Response:
        todo = self.state.todo
        stored = todo.resolve(call.groups[0], call.groups[1])
        links = "linkedResources" in expand_param(call.request.query)
        return _ok(select(todo.render(stored, expand_links=links), _with(select_param(call.request.query), links, "linkedResources")))

    def task_links(self, call: Call) -> Response:
        stored = self.state.todo.resolve(call.groups[0], call.groups[1])
        return _ok({"value": [dict(link) for link in stored.linked]})

    def task_patch(self, call: Call) -> Response:
        stored = self.state.todo.update(call.groups[0], call.groups[1], call.json())
        return _ok(self.state.todo.render(stored))

    def task_delete(self, call: Call) -> Response:
        self.state.todo.delete(call.groups[0], call.groups[1])
        return Response(204)


def _with(fields: list[str] | None, expand: bool, name: str = "singleValueExtendedProperties") -> list[str] | None:
    """A $select list that keeps the expanded navigation property."""
    if fields is None:
        return None
    return [*fields, name] if expand else fields


def _has_property(values: dict[str, str], wanted: ExtendedPropertyFilter) -> bool:
    for prop_id, value in values.items():
        if prop_id.lower() == wanted.property_id.lower() and (wanted.value is None or value == wanted.value):
            return True
    return False


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

