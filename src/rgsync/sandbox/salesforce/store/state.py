"""The state every part of the org shares: sObject metadata, the rows (by Id and by type), the
delete log, validation rules and list views, plus Id minting and the journalled row store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .. import ids
from ..clock import utc_now
from ..errors import RecordError, RequestError
from ..schema import SObjectType, custom_text_field, standard_objects

DEFAULT_API_LIMIT = 15000


@dataclass
class ValidationRule:
    """A validation rule: records of `object` for which `rejects(record)` is true are refused
    with FIELD_CUSTOM_VALIDATION_EXCEPTION and `message` (attached to `field` when given)."""

    object: str
    rejects: Callable[[Mapping[str, Any]], bool]
    message: str
    field: str | None = None
    active: bool = True


@dataclass
class ListViewSpec:
    """What a list view shows: its object, filter (SOQL WHERE text), columns and ordering."""

    id: str
    object: str
    label: str
    developer_name: str
    where: str | None = None
    columns: tuple[str, ...] = ()
    order_by: str = "Name"

    def query(self) -> str:
        """The SOQL the view runs, as `listviews/{id}/describe` reports it."""
        columns = list(self.columns) or ["Name"]
        for system in ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp"):
            if system not in columns:
                columns.append(system)
        where = f" WHERE {self.where}" if self.where else ""
        return (
            f"SELECT {', '.join(columns)} FROM {self.object}{where} "
            f"ORDER BY {self.order_by} ASC NULLS FIRST, Id ASC NULLS FIRST"
        )


@dataclass
class _Journal:
    """Old values of rows touched since a savepoint, so allOrNone can put them back."""

    entries: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    delete_log_size: list[int] = field(default_factory=list)


# Child objects looked up by their parent on every write of the parent: the parent field of each.
CHILD_INDEX: dict[str, str] = {
    "TaskRelation": "TaskId",
    "EventRelation": "EventId",
    "EmailMessageRelation": "EmailMessageId",
}


class OrgState:
    """The org's data and metadata, which the parts of `Org` build on; takes `Org`'s settings."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        enhanced_email: bool = True,
        shared_activities: bool = True,
        api_limit: int = DEFAULT_API_LIMIT,
        name: str = "Sandbox Org",
    ) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], datetime] = clock or utc_now
        self.enhanced_email = enhanced_email
        self.shared_activities = shared_activities
        self.api_limit = api_limit
        self.api_used = 0
        self.objects: dict[str, SObjectType] = standard_objects()
        self._objects_lower = {name.lower(): obj for name, obj in self.objects.items()}
        self._type_by_prefix = {obj.key_prefix: obj.name for obj in self.objects.values()}
        self._rows: dict[str, dict[str, Any]] = {}
        self._by_type: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.objects}
        # Ids of the relation rows of each activity, in the order they were stored (see `child_rows`).
        self._children: dict[tuple[str, str], dict[str, None]] = {}
        # Text and Id fields SOQL has filtered with `=` / `IN`, per object: folded value -> Ids
        # (built on first use, then kept up by `_store`; see `indexed_rows`). With each record's
        # place in its object's row order, so answers come in the order a scan gives.
        self._field_index: dict[str, dict[str, dict[str, dict[str, None]]]] = {}
        self._order: dict[str, int] = {}
        self._counters: dict[str, int] = {}
        self._delete_log: list[tuple[str, str, datetime]] = []
        self._earliest_deleted: dict[str, datetime] = {}
        self.validation_rules: list[ValidationRule] = []
        self.list_views: dict[str, ListViewSpec] = {}
        self._journals: list[_Journal] = []
        self.org_id = ids.mint("00D", 1)
        organization: dict[str, Any] = {f: None for f in self.objects["Organization"].fields}
        organization.update(
            Id=self.org_id, IsDeleted=False, Name=name, OrganizationType="Enterprise Edition", IsSandbox=True
        )
        self._rows[self.org_id] = self._by_type["Organization"][self.org_id] = organization
        self.acting_user_id: str | None = None

    # --- metadata -------------------------------------------------------------------------

    def object_type(self, name: str) -> SObjectType:
        """The sObject type called `name` (case-insensitive); NOT_FOUND (404) otherwise."""
        obj = self._objects_lower.get(name.lower())
        if obj is None:
            raise RequestError("NOT_FOUND", "The requested resource does not exist", status=404)
        return obj

    def has_object(self, name: str) -> bool:
        """Whether the org has an sObject type called `name` (case-insensitive)."""
        return name.lower() in self._objects_lower

    def type_of(self, record_id: str) -> str | None:
        """The sObject type an Id's key prefix belongs to, or None."""
        return self._type_by_prefix.get(ids.key_prefix(record_id))

    def is_createable(self, obj: SObjectType) -> bool:
        """Whether records of `obj` can be created here (EmailMessage needs Enhanced Email)."""
        if obj.name == "EmailMessage":
            return self.enhanced_email
        if obj.name == "TaskRelation":
            return self.shared_activities
        return obj.createable

    def add_custom_field(
        self,
        object_name: str,
        field_name: str,
        *,
        external_id: bool = True,
        unique: bool = True,
        length: int = 255,
    ) -> None:
        """Add a custom text field (by default a unique External ID) to an object."""
        with self.lock:
            obj = self.object_type(object_name)
            obj.add_field(
                custom_text_field(field_name, external_id=external_id, unique=unique, length=length)
            )
            for row in self._by_type[obj.name].values():
                row.setdefault(field_name, None)

    # --- internals --------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self.clock().astimezone(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _mint(self, obj: SObjectType) -> str:
        number = self._counters.get(obj.key_prefix, 0) + 1
        self._counters[obj.key_prefix] = number
        return ids.mint(obj.key_prefix, number)

    def _store(self, record_id: str, row: dict[str, Any]) -> None:
        if self._journals:
            old = self._rows.get(record_id)
            self._journals[-1].entries.append((record_id, None if old is None else old))
        kind = self.type_of(record_id) or ""
        self._rows[record_id] = row
        self._by_type.setdefault(kind, {})[record_id] = row
        self._order.setdefault(record_id, len(self._order))
        parent_field = CHILD_INDEX.get(kind)
        if parent_field is not None and row.get(parent_field):
            self._children.setdefault((kind, row[parent_field]), {})[record_id] = None
        self._index_row(kind, record_id, row)

    def _index_row(self, kind: str, record_id: str, row: Mapping[str, Any]) -> None:
        for field_name, index in self._field_index.get(kind, {}).items():
            value = row.get(field_name)
            if isinstance(value, str):
                index.setdefault(value.casefold(), {})[record_id] = None

    def indexed_rows(self, kind: str, field_name: str, values: list[str]) -> list[dict[str, Any]]:
        """Rows of `kind` (deleted ones too) whose `field_name` may equal one of `values`, oldest
        first: a superset of the rows a scan of `iter_rows` would find equal, for the caller to
        check again (text is compared case-folded here, and the index only ever gains Ids, like
        `child_rows`). A lookup of a few hundred values then costs that many steps, not one step
        per row of the object per query.
        """
        by_field = self._field_index.setdefault(kind, {})
        index = by_field.get(field_name)
        rows = self._by_type.get(kind, {})
        if index is None:
            index = by_field[field_name] = {}
            for record_id, row in rows.items():
                value = row.get(field_name)
                if isinstance(value, str):
                    index.setdefault(value.casefold(), {})[record_id] = None
        found: dict[str, None] = {}
        for value in values:
            found.update(index.get(value.casefold(), {}))
        order = self._order
        return [rows[r] for r in sorted(found, key=lambda r: order.get(r, -1)) if r in rows]

    def child_rows(self, kind: str, parent_id: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """The live rows of `kind` (a key of `CHILD_INDEX`) whose parent is `parent_id`,
        oldest first: what scanning `iter_rows(kind)` for that parent gives, without the scan.

        The index only ever gains ids (rows rolled back or purged are skipped here), and each row
        is checked again, so it can never answer more than the scan would.
        """
        parent_field = CHILD_INDEX[kind]
        rows = self._by_type[kind]
        found = []
        for record_id in self._children.get((kind, parent_id), ()):
            row = rows.get(record_id)
            if (
                row is not None
                and row[parent_field] == parent_id
                and (include_deleted or not row["IsDeleted"])
            ):
                found.append(row)
        return found

    def _live_row(self, record_id: str) -> dict[str, Any]:
        normal = ids.normalize(record_id)
        if normal is None or self.type_of(normal) is None:
            raise RecordError("MALFORMED_ID", f"malformed id {record_id}", ("Id",), status=400)
        row = self._rows.get(normal)
        if row is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", status=404)
        if row["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", status=404)
        return row
