"""Graph routes for contacts (contact folders, contacts, their delta) and Microsoft To Do (lists,
tasks, their delta, linked resources), mixed into `GraphApi`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rgsync.sandbox.graph.call import Call, has_property, ok, with_expanded
from rgsync.sandbox.graph.common import (
    EqualsFilter,
    ExtendedPropertyFilter,
    GraphError,
    Json,
    expand_filter_id,
    expand_param,
    parse_filter,
    select,
    select_param,
)
from rgsync.sandbox.graph.delta import page_list
from rgsync.sandbox.http import Response

if TYPE_CHECKING:
    from rgsync.sandbox.graph.state import GraphState


class PeopleRoutes:
    """Contact and To Do handlers; `state` is the emulator's `GraphState`."""

    state: GraphState

    # -- contacts --------------------------------------------------------------------------------
    def contact_folders(self, call: Call) -> Response:
        """GET /me/contactFolders."""
        people = self.state.people
        folders = list(people.folders.values())
        for text in call.request.query.get("$filter", []):
            parsed = parse_filter(text)
            if not isinstance(parsed, EqualsFilter) or parsed.name != "displayName":
                raise GraphError(
                    400,
                    "ErrorInvalidUrlQueryFilter",
                    "Only displayName eq '…' is supported on contact folders here.",
                )
            folders = [f for f in folders if f["displayName"] == parsed.value]
        return ok(
            page_list(
                call.base,
                call.full_path,
                call.request.query,
                [dict(f) for f in folders],
                call.prefs.max_page_size,
            )
        )

    def contact_folder_create(self, call: Call) -> Response:
        """POST /me/contactFolders."""
        return ok(self.state.people.create_folder(call.json()), 201)

    def contact_folder(self, call: Call) -> Response:
        """GET /me/contactFolders/{id}."""
        people = self.state.people
        folder_id = people.folder_id(call.groups[0])
        if folder_id == people.root_id:
            return ok({"id": folder_id, "displayName": "Contacts", "parentFolderId": None})
        return ok(dict(people.folders[folder_id]))

    def _contact_location(self, call: Call) -> tuple[str | None, str | None]:
        """(folder, contact id) from the path: `/contactFolders/{f}/contacts[/{c}]` or `/contacts[/{c}]`."""
        if call.path.startswith("/contactFolders/"):
            return call.groups[0], call.groups[1] if len(call.groups) > 1 else None
        return None, call.groups[0] if call.groups else None

    def contacts_delta(self, call: Call) -> Response:
        """GET /me/contactFolders/{id}/contacts/delta."""
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
                    out.append(
                        {
                            "@odata.type": "#microsoft.graph.contact",
                            "id": contact_id,
                            "@removed": {"reason": "deleted"},
                        }
                    )
            return out

        return ok(
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
        """GET /me/contactFolders/{id}/contacts and GET /me/contacts."""
        people = self.state.people
        folder, _ = self._contact_location(call)
        folder_id = people.folder_id(folder or "contacts")
        expand = expand_param(call.request.query)
        wanted = (
            expand_filter_id(expand.get("singleValueExtendedProperties"))
            if "singleValueExtendedProperties" in expand
            else None
        )
        contacts = people.in_folder(folder_id)
        for text in call.request.query.get("$filter", []):
            parsed = parse_filter(text)
            if not isinstance(parsed, ExtendedPropertyFilter):
                raise GraphError(
                    400, "ErrorInvalidUrlQueryFilter", "This $filter is not supported on contacts here."
                )
            contacts = [c for c in contacts if has_property(c.extended, parsed)]
        items = [
            select(
                people.render(c, expand_property=wanted, expand="singleValueExtendedProperties" in expand),
                with_expanded(select_param(call.request.query), bool(expand)),
            )
            for c in contacts
        ]
        return ok(page_list(call.base, call.full_path, call.request.query, items, call.prefs.max_page_size))

    def contacts_create(self, call: Call) -> Response:
        """POST /me/contactFolders/{id}/contacts and POST /me/contacts."""
        folder, _ = self._contact_location(call)
        stored = self.state.people.create(folder or "contacts", call.json())
        return ok(self.state.people.render(stored), 201)

    def contact_get(self, call: Call) -> Response:
        """GET /me/contactFolders/{id}/contacts/{id} and GET /me/contacts/{id}."""
        people = self.state.people
        folder, contact_id = self._contact_location(call)
        stored = people.resolve(contact_id or "", folder)
        expand = expand_param(call.request.query)
        wanted = (
            expand_filter_id(expand.get("singleValueExtendedProperties"))
            if "singleValueExtendedProperties" in expand
            else None
        )
        body = people.render(stored, expand_property=wanted, expand="singleValueExtendedProperties" in expand)
        return ok(select(body, with_expanded(select_param(call.request.query), bool(expand))))

    def contact_patch(self, call: Call) -> Response:
        """PATCH /me/contactFolders/{id}/contacts/{id} and PATCH /me/contacts/{id}."""
        folder, contact_id = self._contact_location(call)
        stored = self.state.people.update(contact_id or "", call.json(), folder)
        return ok(self.state.people.render(stored))

    def contact_delete(self, call: Call) -> Response:
        """DELETE /me/contactFolders/{id}/contacts/{id} and DELETE /me/contacts/{id}."""
        folder, contact_id = self._contact_location(call)
        self.state.people.delete(contact_id or "", folder)
        return Response(204)

    # -- To Do -----------------------------------------------------------------------------------
    def todo_lists(self, call: Call) -> Response:
        """GET /me/todo/lists."""
        lists = [dict(v) for v in self.state.todo.lists.values()]
        return ok(
            page_list(
                call.base, call.full_path, call.request.query, lists, call.prefs.max_page_size, default=100
            )
        )

    def todo_list_create(self, call: Call) -> Response:
        """POST /me/todo/lists."""
        return ok(self.state.todo.create_list(call.json()), 201)

    def todo_list(self, call: Call) -> Response:
        """GET /me/todo/lists/{id}."""
        todo = self.state.todo
        return ok(dict(todo.lists[todo.list_id(call.groups[0])]))

    def tasks_delta(self, call: Call) -> Response:
        """GET /me/todo/lists/{id}/tasks/delta."""
        todo = self.state.todo
        query = call.request.query
        list_id = todo.list_id(call.groups[0])
        expand = expand_param(query)
        unknown = [name for name in expand if name not in ("linkedResources", "checklistItems", "extensions")]
        if unknown:
            raise GraphError(
                400,
                "BadRequest",
                f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.todoTask'.",
            )
        options = {"list": list_id, "select": select_param(query), "links": "linkedResources" in expand}

        def rows(position: int | None, opts: dict[str, Any]) -> list[Json]:
            lid = opts["list"]
            fields = (
                None
                if opts["select"] is None
                else [*opts["select"], *(["linkedResources"] if opts["links"] else [])]
            )
            if position is None:
                return [select(todo.render(t, expand_links=opts["links"]), fields) for t in todo.in_list(lid)]
            out: list[Json] = []
            for task_id, before in self.state.log.changed_since(todo.collection(lid), position).items():
                current = todo.tasks.get(task_id)
                if current is not None and current.list_id == lid:
                    out.append(select(todo.render(current, expand_links=opts["links"]), fields))
                elif before is not None:
                    out.append(
                        {
                            "@odata.type": "#microsoft.graph.todoTask",
                            "id": task_id,
                            "@removed": {"reason": "deleted"},
                        }
                    )
            return out

        return ok(
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
        """GET /me/todo/lists/{id}/tasks."""
        todo = self.state.todo
        list_id = todo.list_id(call.groups[0])
        links = "linkedResources" in expand_param(call.request.query)
        items = [
            select(
                todo.render(t, expand_links=links),
                with_expanded(select_param(call.request.query), links, "linkedResources"),
            )
            for t in todo.in_list(list_id)
        ]
        return ok(page_list(call.base, call.full_path, call.request.query, items, call.prefs.max_page_size))

    def tasks_create(self, call: Call) -> Response:
        """POST /me/todo/lists/{id}/tasks."""
        stored = self.state.todo.create(call.groups[0], call.json())
        return ok(self.state.todo.render(stored, expand_links=bool(stored.linked)), 201)

    def task_get(self, call: Call) -> Response:
        """GET /me/todo/lists/{id}/tasks/{id}."""
        todo = self.state.todo
        stored = todo.resolve(call.groups[0], call.groups[1])
        links = "linkedResources" in expand_param(call.request.query)
        return ok(
            select(
                todo.render(stored, expand_links=links),
                with_expanded(select_param(call.request.query), links, "linkedResources"),
            )
        )

    def task_links(self, call: Call) -> Response:
        """GET /me/todo/lists/{id}/tasks/{id}/linkedResources."""
        stored = self.state.todo.resolve(call.groups[0], call.groups[1])
        return ok({"value": [dict(link) for link in stored.linked]})

    def task_patch(self, call: Call) -> Response:
        """PATCH /me/todo/lists/{id}/tasks/{id}."""
        stored = self.state.todo.update(call.groups[0], call.groups[1], call.json())
        return ok(self.state.todo.render(stored))

    def task_delete(self, call: Call) -> Response:
        """DELETE /me/todo/lists/{id}/tasks/{id}."""
        self.state.todo.delete(call.groups[0], call.groups[1])
        return Response(204)
