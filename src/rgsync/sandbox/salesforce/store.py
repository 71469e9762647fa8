"""The emulated org: sObject metadata, records keyed by Id, and the rules Salesforce applies on save.

Records are kept as dicts of canonical field name → Python value (str, bool, int, float, `date`,
aware `datetime`, or None). Deleted records stay with IsDeleted = true (for queryAll and
getDeleted) until purged. Every write goes through `insert`/`update`/`delete`, which refuse what
Salesforce refuses (unknown or read-only fields, missing required fields, too-long text,
restricted picklists, dangling references, validation rules, duplicate unique values) with
`RecordError`, or with `RequestError` when the payload itself could not be read.

Tests use the same methods to set up and inspect an org directly: `org.insert('Contact', {...})`,
`org.records('Task')`, `org.get(id)`, `org.update(id, {...})`, `org.delete(id)`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from . import activities, ids
from .schema import NUMBER_TYPES, SObjectType, custom_text_field, standard_objects

DEFAULT_API_LIMIT = 15000
UPDATED_WINDOW = timedelta(days=30)
DELETED_WINDOW = timedelta(days=15)
AUDIT_FIELDS = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp")
_TEXT = frozenset({"string", "textarea", "email", "url", "phone", "picklist", "combobox"})
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATETIME_SHAPE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def utc_now() -> datetime:
    """The wall clock in UTC, truncated to milliseconds as Salesforce stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class ManualClock:
    """A clock tests move by hand: `clock()` answers the set time, `advance(...)` moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by `timedelta(**delta)` and return the new time."""
        self.now += timedelta(**delta)
        return self.now


@dataclass(frozen=True)
class ErrorDetail:
    """One Salesforce error: code (e.g. REQUIRED_FIELD_MISSING), message, fields."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_top_level(self) -> dict[str, Any]:
        """The shape of a REST error body entry: message, errorCode, fields."""
        return {"message": self.message, "errorCode": self.code, "fields": list(self.fields)}

    def as_record_error(self) -> dict[str, Any]:
        """The shape of an error inside a SaveResult/DeleteResult: statusCode, message, fields."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}


class SalesforceError(Exception):
    """Something Salesforce refuses, with the HTTP status it would answer."""

    def __init__(
        self, code: str, message: str, fields: tuple[str, ...] | list[str] = (), *, status: int = 400
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.errors = [ErrorDetail(code, message, tuple(fields))]

    @property
    def code(self) -> str:
        return self.errors[0].code

    def body(self) -> list[dict[str, Any]]:
        """The REST error body `[{"message", "errorCode", "fields"}]`."""
        return [e.as_top_level() for e in self.errors]


class RecordError(SalesforceError):
    """This record can't be saved; other records in the same call are not affected."""


class RequestError(SalesforceError):
    """The request as a whole is refused (unreadable JSON, unknown object, a limit)."""


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


class Org:
    """An in-memory Salesforce org. Thread-safe: every public method holds `lock`.

    `clock` answers "now" (aware UTC datetimes); `enhanced_email` makes EmailMessage createable
    and auto-creates its Task; `shared_activities` enables TaskWhoIds/EventWhoIds and the
    TaskRelation rows; `api_limit` is the daily API allocation.
    """

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

    # --- reading ----------------------------------------------------------------------------

    def get(self, record_id: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        """A copy of the record with this Id (15 or 18 characters), or None."""
        with self.lock:
            row = self.row(record_id)
            if row is None or (row.get("IsDeleted") and not include_deleted):
                return None
            return dict(row)

    def records(self, object_name: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Copies of all records of an object, oldest first."""
        with self.lock:
            obj = self.object_type(object_name)
            return [
                dict(r) for r in self._by_type[obj.name].values() if include_deleted or not r["IsDeleted"]
            ]

    def row(self, record_id: str) -> dict[str, Any] | None:
        """The live stored row for an Id (deleted ones too), without copying. Callers must not change it."""
        normal = ids.normalize(record_id)
        return None if normal is None else self._rows.get(normal)

    def iter_rows(self, object_name: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """The live rows of an object (for the query engine), oldest first."""
        for row in self._by_type[self.object_type(object_name).name].values():
            if include_deleted or not row["IsDeleted"]:
                yield row

    def find(self, object_name: str, field_name: str, value: Any) -> list[str]:
        """Ids of live records whose `field_name` equals `value` (case-insensitive for text unless the field is case-sensitive)."""
        with self.lock:
            obj = self.object_type(object_name)
            spec = obj.field(field_name)
            if spec is None:
                raise RequestError(
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {field_name}",
                    status=404,
                )
            if spec.name == "Id":
                normal = ids.normalize(value)
                row = self._rows.get(normal) if normal else None
                return (
                    [row["Id"]]
                    if row and not row["IsDeleted"] and self.type_of(row["Id"]) == obj.name
                    else []
                )
            wanted = _match_key(value, spec.case_sensitive)
            return [
                r["Id"]
                for r in self._by_type[obj.name].values()
                if not r["IsDeleted"]
                and r.get(spec.name) is not None
                and _match_key(r[spec.name], spec.case_sensitive) == wanted
            ]

    # --- writing ----------------------------------------------------------------------------

    def insert(self, object_name: str, values: Mapping[str, Any], *, audit: bool = False) -> str:
        """Create a record and return its 18-character Id.

        `values` uses API names and JSON-style values (ISO strings for dates). With `audit=True`
        the audit fields (CreatedDate, LastModifiedDate, …) may be given, as with the
        "Set Audit Fields upon Record Creation" permission.
        """
        with self.lock:
            obj = self.object_type(object_name)
            if not self.is_createable(obj):
                raise RecordError(
                    "INVALID_TYPE_FOR_OPERATION",
                    f"entity type {obj.name} does not support insert",
                    status=400,
                )
            given = self._coerce(obj, values, creating=True, audit=audit)
            junctions = {k: given.pop(k) for k in list(given) if obj.fields[k].type == "junctionidlist"}
            row: dict[str, Any] = {
                f.name: f.default for f in obj.fields.values() if f.type != "junctionidlist"
            }
            row.update(given)
            now = self._now()
            user = self.acting_user_id
            row["IsDeleted"] = False
            for name, value in (("CreatedDate", now), ("LastModifiedDate", now), ("SystemModstamp", now)):
                if row.get(name) is None:
                    row[name] = value
            for name in ("CreatedById", "LastModifiedById"):
                if row.get(name) is None:
                    row[name] = user
            if "OwnerId" in obj.fields and row.get("OwnerId") is None:
                row["OwnerId"] = user
            activities.before_save(self, obj, row, set(given), junctions, previous=None)
            self._check(obj, row, set(given) | set(junctions), previous=None)
            new_id = self._mint(obj)
            row["Id"] = new_id
            self._store(new_id, row)
            activities.after_save(self, obj, row, junctions, previous=None)
            return new_id

    def update(self, record_id: str, values: Mapping[str, Any], *, expected_type: str | None = None) -> str:
        """Change fields of a live record; returns its 18-character Id."""
        with self.lock:
            current = self._live_row(record_id)
            obj = self.objects[self.type_of(current["Id"]) or ""]
            if expected_type is not None and obj.name.lower() != expected_type.lower():
                raise RecordError(
                    "MALFORMED_ID",
                    f"{expected_type} ID: id value of incorrect type: {current['Id']}",
                    ("Id",),
                )
            if not obj.updateable:
                raise RecordError(
                    "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support update"
                )
            given = self._coerce(obj, values, creating=False, audit=False)
            given.pop("Id", None)
            junctions = {k: given.pop(k) for k in list(given) if obj.fields[k].type == "junctionidlist"}
            activities.check_update_allowed(self, obj, current, set(given) | set(junctions))
            row = dict(current)
            row.update(given)
            row["LastModifiedDate"] = row["SystemModstamp"] = self._now()
            row["LastModifiedById"] = self.acting_user_id or row.get("LastModifiedById")
            activities.before_save(self, obj, row, set(given), junctions, previous=current)
            self._check(obj, row, set(given) | set(junctions), previous=current)
            self._store(row["Id"], row)
            activities.after_save(self, obj, row, junctions, previous=current)
            return str(row["Id"])

    def delete(self, record_id: str) -> str:
        """Move a live record to the recycle bin (IsDeleted = true); returns its Id."""
        with self.lock:
            current = self._live_row(record_id)
            obj = self.objects[self.type_of(current["Id"]) or ""]
            if not obj.deletable:
                raise RecordError(
                    "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support delete"
                )
            self._soft_delete(obj, current)
            return str(current["Id"])

    def upsert(
        self, object_name: str, field_name: str, value: Any, values: Mapping[str, Any]
    ) -> tuple[str, bool]:
        """Update the record whose external ID `field_name` equals `value`, or create one.

        Returns (Id, created). Several matches → RecordError MULTIPLE_RECORDS_FOUND (HTTP 300).
        """
        with self.lock:
            obj = self.object_type(object_name)
            spec = obj.field(field_name)
            if spec is None or not (spec.external_id or spec.name == "Id"):
                raise RequestError(
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {field_name}",
                    status=404,
                )
            body = {k: v for k, v in values.items() if k != "attributes"}
            if spec.name != "Id":
                stated = next((v for k, v in body.items() if k.lower() == spec.name.lower()), None)
                if stated is not None and _match_key(stated, spec.case_sensitive) != _match_key(
                    value, spec.case_sensitive
                ):
                    raise RecordError(
                        "INVALID_FIELD",
                        f"The value of the external ID field in the body ({stated}) doesn't match the value in the URL ({value})",
                        (spec.name,),
                    )
            matches = self.find(obj.name, spec.name, value)
            if len(matches) > 1:
                error = RecordError(
                    "MULTIPLE_RECORDS_FOUND",
                    f"More than one record found for {spec.name}: {value}",
                    status=300,
                )
                error.matches = matches  # type: ignore[attr-defined]
                raise error
            if matches:
                return self.update(matches[0], body), False
            if spec.name == "Id":
                raise RecordError(
                    "NOT_FOUND", "Provided external ID field does not exist or is not accessible", status=404
                )
            body = {k: v for k, v in body.items() if k.lower() != spec.name.lower()}
            body[spec.name] = value
            return self.insert(obj.name, body), True

    def convert_lead(
        self, lead_id: str, *, contact_id: str | None = None, account_id: str | None = None
    ) -> None:
        """Mark a lead converted (as the UI's Convert does); converted leads become read-only."""
        with self.lock:
            row = dict(self._live_row(lead_id))
            row.update(
                IsConverted=True,
                ConvertedDate=self._now().date(),
                ConvertedContactId=ids.normalize(contact_id) if contact_id else None,
                ConvertedAccountId=ids.normalize(account_id) if account_id else None,
                Status="Closed - Converted",
                LastModifiedDate=self._now(),
                SystemModstamp=self._now(),
            )
            self._store(row["Id"], row)

    def add_validation_rule(
        self,
        object_name: str,
        rejects: Callable[[Mapping[str, Any]], bool],
        message: str,
        field: str | None = None,
    ) -> ValidationRule:
        """Register a validation rule: saves of `object_name` records where `rejects(record)` is
        true fail with FIELD_CUSTOM_VALIDATION_EXCEPTION and `message`."""
        with self.lock:
            rule = ValidationRule(self.object_type(object_name).name, rejects, message, field)
            self.validation_rules.append(rule)
            return rule

    def add_list_view(
        self,
        object_name: str,
        label: str,
        *,
        developer_name: str | None = None,
        where: str | None = None,
        columns: tuple[str, ...] | list[str] = (),
        order_by: str = "Name",
    ) -> str:
        """Create a list view on `object_name` showing records matching the SOQL `where` text."""
        with self.lock:
            obj = self.object_type(object_name)
            view_type = self.objects["ListView"]
            view_id = self._mint(view_type)
            developer = developer_name or re.sub(r"\W+", "_", label).strip("_")
            now = self._now()
            row: dict[str, Any] = {f: None for f in view_type.fields}
            row.update(
                Id=view_id,
                IsDeleted=False,
                Name=label[:40],
                DeveloperName=developer,
                SobjectType=obj.name,
                CreatedDate=now,
                LastModifiedDate=now,
                SystemModstamp=now,
                CreatedById=self.acting_user_id,
                LastModifiedById=self.acting_user_id,
            )
            self._store(view_id, row)
            default_columns = ("Name", "Email") if obj.name in ("Contact", "Lead") else ("Name",)
            self.list_views[view_id] = ListViewSpec(
                view_id, obj.name, label, developer, where, tuple(columns) or default_columns, order_by
            )
            return view_id

    # --- replication ------------------------------------------------------------------------

    def updated_ids(self, object_name: str, start: datetime, end: datetime) -> tuple[list[str], datetime]:
        """getUpdated: Ids of live records whose SystemModstamp is in [start, end) (seconds
        dropped), and latestDateCovered. Refuses windows older than 30 days."""
        with self.lock:
            obj = self.object_type(object_name)
            start, end, latest = self._window(start, end, UPDATED_WINDOW)
            found = [
                r["Id"]
                for r in self._by_type[obj.name].values()
                if not r["IsDeleted"] and start <= r["SystemModstamp"] < latest
            ]
            return found, latest

    def deleted_records(
        self, object_name: str, start: datetime, end: datetime
    ) -> tuple[list[tuple[str, datetime]], datetime, datetime]:
        """getDeleted: (Id, deletedDate) pairs in [start, end), earliestDateAvailable and
        latestDateCovered. Refuses windows older than 15 days or before the purge mark."""
        with self.lock:
            obj = self.object_type(object_name)
            start, end, latest = self._window(start, end, DELETED_WINDOW)
            earliest = self._earliest_deleted.get(obj.name, self._now() - DELETED_WINDOW)
            earliest = max(earliest, self._now() - DELETED_WINDOW).replace(second=0, microsecond=0)
            if earliest > end:
                raise RequestError(
                    "INVALID_REPLICATION_DATE",
                    f"earliestDateAvailable {_iso(earliest)} is after the end date: the delete log was purged; replicate again",
                )
            found = [
                (rid, when)
                for kind, rid, when in self._delete_log
                if kind == obj.name and start <= when < latest and self._rows[rid]["IsDeleted"]
            ]
            return found, earliest, latest

    def purge_deleted(self, object_name: str | None = None, *, before: datetime | None = None) -> int:
        """Empty the recycle bin (of one object, or all) for deletions before `before` (default now).
        Purged records vanish from queryAll and getDeleted, and earliestDateAvailable moves up."""
        with self.lock:
            cutoff = before or self._now()
            names = [self.object_type(object_name).name] if object_name else list(self.objects)
            purged = 0
            kept: list[tuple[str, str, datetime]] = []
            for kind, rid, when in self._delete_log:
                if kind in names and when < cutoff:
                    self._rows.pop(rid, None)
                    self._by_type[kind].pop(rid, None)
                    purged += 1
                else:
                    kept.append((kind, rid, when))
            self._delete_log = kept
            for name in names:
                self._earliest_deleted[name] = max(self._earliest_deleted.get(name, cutoff), cutoff)
            return purged

    # --- API allocation -------------------------------------------------------------------

    def count_api_call(self) -> None:
        """Charge one call to the daily allocation; REQUEST_LIMIT_EXCEEDED (403) when it is spent."""
        with self.lock:
            if self.api_used >= self.api_limit:
                raise RequestError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)
            self.api_used += 1

    def set_allocation(self, used: int, limit: int | None = None) -> None:
        """Set the calls used so far today (and optionally the daily limit)."""
        with self.lock:
            self.api_used = used
            if limit is not None:
                self.api_limit = limit

    # --- all-or-none --------------------------------------------------------------------

    def savepoint(self) -> int:
        """Start recording changes so `rollback` can undo them; returns the savepoint's depth."""
        with self.lock:
            self._journals.append(_Journal(delete_log_size=[len(self._delete_log)]))
            return len(self._journals)

    def release(self, mark: int) -> None:
        """Keep the changes since savepoint `mark` (folding them into an outer savepoint)."""
        with self.lock:
            journal = self._journals.pop()
            if len(self._journals) + 1 != mark:
                raise RuntimeError("savepoints released out of order")
            if self._journals:
                self._journals[-1].entries.extend(journal.entries)

    def rollback(self, mark: int) -> None:
        """Undo every change since savepoint `mark` and drop the savepoint."""
        with self.lock:
            journal = self._journals.pop()
            if len(self._journals) + 1 != mark:
                raise RuntimeError("savepoints rolled back out of order")
            for record_id, old in reversed(journal.entries):
                kind = self.type_of(record_id) or ""
                if old is None:
                    self._rows.pop(record_id, None)
                    self._by_type.get(kind, {}).pop(record_id, None)
                else:
                    self._rows[record_id] = old
                    self._by_type[kind][record_id] = old
            del self._delete_log[journal.delete_log_size[0] :]

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

    def _soft_delete(self, obj: SObjectType, current: dict[str, Any]) -> None:
        row = dict(current)
        now = self._now()
        row.update(IsDeleted=True, SystemModstamp=now, LastModifiedDate=now)
        row["LastModifiedById"] = self.acting_user_id or row.get("LastModifiedById")
        self._store(row["Id"], row)
        self._delete_log.append((obj.name, row["Id"], now))
        for child_type, child_id in activities.cascade(self, obj, row):
            child = self._rows.get(child_id)
            if child is not None and not child["IsDeleted"]:
                self._soft_delete(self.objects[child_type], child)

    def _window(
        self, start: datetime, end: datetime, reach: timedelta
    ) -> tuple[datetime, datetime, datetime]:
        start = start.astimezone(UTC).replace(second=0, microsecond=0)
        end = end.astimezone(UTC).replace(second=0, microsecond=0)
        now = self._now()
        if start >= end:
            raise RequestError("INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate")
        if start < (now - reach).replace(hour=0, minute=0, second=0, microsecond=0):
            raise RequestError(
                "INVALID_REPLICATION_DATE",
                f"startDate cannot be more than {reach.days} days ago",
            )
        latest = min(end, now.replace(second=0, microsecond=0))
        return start, end, latest

    def _coerce(
        self, obj: SObjectType, values: Mapping[str, Any], *, creating: bool, audit: bool
    ) -> dict[str, Any]:
        """Map API names to canonical ones and JSON values to Python ones; refuse unknown,
        read-only or unreadable fields."""
        if not isinstance(values, Mapping):
            raise RequestError(
                "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from non-object value"
            )
        out: dict[str, Any] = {}
        readonly: list[str] = []
        for key, raw in values.items():
            if key == "attributes":
                continue
            spec = obj.field(key)
            if spec is None or (
                spec.type == "junctionidlist" and not self.shared_activities and obj.name in ("Task", "Event")
            ):
                raise RecordError(
                    "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", (key,)
                )
            if spec.name == "Id" and not creating:
                out["Id"] = raw
                continue
            allowed = spec.createable if creating else spec.updateable
            if not allowed and not (audit and creating and spec.name in AUDIT_FIELDS):
                readonly.append(spec.name)
                continue
            out[spec.name] = parse_value(spec.type, raw, spec.name)
        if readonly:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(readonly)}. Please check the security settings of this "
                "field and verify that it is read/write for your profile or permission set.",
                readonly,
            )
        return out

    def _check(
        self, obj: SObjectType, row: dict[str, Any], given: set[str], previous: dict[str, Any] | None
    ) -> None:
        missing = [
            f.name
            for f in obj.fields.values()
            if (f.required or (not f.nillable and f.createable))
            and f.type not in ("boolean",)
            and (f.name != "OwnerId" or previous is not None)  # defaults to the acting user
            and row.get(f.name) is None
            and (previous is None or f.name in given)
        ]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        for name in sorted(given):
            spec = obj.fields[name]
            value = row.get(name)
            if value is None or spec.type == "junctionidlist":
                continue
            label = spec.label or name
            if spec.type in _TEXT and spec.length and len(value) > spec.length:
                raise RecordError(
                    "STRING_TOO_LONG",
                    f"{label}: data value too large: {value[:60]} (max length={spec.length})",
                    (name,),
                )
            if spec.type == "email" and not _EMAIL_SHAPE.match(value):
                raise RecordError(
                    "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", (name,)
                )
            if spec.type == "picklist" and spec.restricted and value not in spec.picklist:
                raise RecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{label}: bad value for restricted picklist field: {value}",
                    (name,),
                )
            if spec.type == "reference":
                row[name] = self.check_reference(spec.name, spec.reference_to, value)
        for rule in self.validation_rules:
            if rule.active and rule.object == obj.name and rule.rejects(dict(row)):
                raise RecordError(
                    "FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, (rule.field,) if rule.field else ()
                )
        for spec in obj.fields.values():
            if spec.unique and spec.name != "Id" and row.get(spec.name) is not None and spec.name in given:
                key = _match_key(row[spec.name], spec.case_sensitive)
                for other in self._by_type[obj.name].values():
                    if other["IsDeleted"] or other["Id"] == row.get("Id") or other.get(spec.name) is None:
                        continue
                    if _match_key(other[spec.name], spec.case_sensitive) == key:
                        raise RecordError(
                            "DUPLICATE_VALUE",
                            f"duplicate value found: {spec.name} duplicates value on record with id: {other['Id']}",
                            (),
                        )

    def check_reference(self, field_name: str, targets: tuple[str, ...], value: Any) -> str:
        """The normalised Id `value` when it names a live record of one of `targets`."""
        label = field_name[:-2] + " ID" if field_name.endswith("Id") else field_name
        normal = ids.normalize(value)
        if normal is None:
            raise RecordError("MALFORMED_ID", f"{label}: id value of incorrect type: {value}", (field_name,))
        kind = self.type_of(normal)
        if kind not in targets:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {value}", (field_name,)
            )
        target = self._rows.get(normal)
        if target is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (field_name,))
        if target["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", (field_name,))
        return normal


def _match_key(value: Any, case_sensitive: bool) -> str:
    text = str(value)
    return text if case_sensitive else text.casefold()


# --- value conversion ---------------------------------------------------------------------


def parse_value(kind: str, raw: Any, name: str = "") -> Any:
    """A JSON value converted to the Python value a field of type `kind` stores.

    Raises RequestError JSON_PARSER_ERROR as Salesforce does when a value can't be read.
    """
    if raw is None:
        return None
    try:
        if kind in _TEXT or kind in ("id", "reference"):
            if isinstance(raw, (bool, dict, list)):
                raise ValueError
            return str(raw) if not isinstance(raw, float) or not raw.is_integer() else str(int(raw))
        if kind == "boolean":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            raise ValueError
        if kind == "int":
            if isinstance(raw, bool):
                raise ValueError
            number = float(raw) if isinstance(raw, str) else raw
            if not isinstance(number, (int, float)) or not float(number).is_integer():
                raise ValueError
            return int(number)
        if kind in NUMBER_TYPES:
            if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
                raise ValueError
            return float(raw)
        if kind == "date":
            if not isinstance(raw, str):
                raise ValueError
            return date.fromisoformat(raw[:10]) if re.match(r"^\d{4}-\d{2}-\d{2}$", raw) else _bad()
        if kind == "datetime":
            if not isinstance(raw, str):
                raise ValueError
            return parse_datetime(raw)
        if kind == "junctionidlist":
            if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
                raise ValueError
            return list(raw)
    except ValueError:
        pass
    shown = raw if not isinstance(raw, str) else raw[:80]
    token = (
        "VALUE_STRING"
        if isinstance(raw, str)
        else "VALUE_NUMBER_INT"
        if isinstance(raw, int)
        else "START_OBJECT"
    )
    raise RequestError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from {token} value {shown} or request may be missing a required field",
        (name,) if name else (),
    )


def _bad() -> Any:
    raise ValueError


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 date-time as Salesforce accepts it (Z, ±hh:mm or ±hhmm; none = UTC) → aware UTC."""
    match = _DATETIME_SHAPE.match(text.strip())
    if not match:
        raise ValueError(f"not a date-time: {text}")
    year, month, dom, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    value = datetime(
        int(year), int(month), int(dom), int(hour), int(minute), int(second or 0), micro, tzinfo=UTC
    )
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def to_json(value: Any) -> Any:
    """A stored value as Salesforce writes it in JSON (dates as 2026-11-28, date-times as
    2026-11-28T10:00:00.000+0000)."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def format_datetime(value: datetime) -> str:
    """A date-time in Salesforce's JSON form."""
    return _iso(value)
