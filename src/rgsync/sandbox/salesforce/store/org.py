"""`Org`, the emulated org tests and the REST API work with: reading and writing records (with
the object-specific hooks of activities.py), upserts by external ID, lead conversion, list views
and validation rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .. import activities, ids
from ..errors import RecordError, RequestError
from ..schema import SObjectType
from .allocation import ApiAllocation
from .checks import SaveChecks, _match_key
from .replication import Replication
from .savepoints import Savepoints
from .state import ListViewSpec, ValidationRule


class Org(SaveChecks, Replication, ApiAllocation, Savepoints):
    """An in-memory Salesforce org. Thread-safe: every public method holds `lock`.

    `clock` answers "now" (aware UTC datetimes); `enhanced_email` makes EmailMessage createable
    and auto-creates its Task; `shared_activities` enables TaskWhoIds/EventWhoIds and the
    TaskRelation rows; `api_limit` is the daily API allocation.
    """

    # Activity sharing, as the org-wide default for Activities sets it: "all" lets every user read
    # every Task and Event (a user with View All Data); "parent" is Salesforce's "Controlled by
    # Parent": a user reads the activities they own, the Events they are invited to, and those
    # related to a record (WhoId/WhatId) — every Contact, Lead, Account and Opportunity is
    # readable in the emulator. A Task handed to a colleague with no related record then
    # vanishes from its former owner's queries, and no API reports that it left.
    activity_sharing = "all"

    # --- reading ----------------------------------------------------------------------------

    def activity_visible(self, row: Mapping[str, Any]) -> bool:
        """True when the acting user may read this Task or Event row (see `activity_sharing`)."""
        user = self.acting_user_id
        if self.activity_sharing != "parent" or not user:
            return True
        if row.get("OwnerId") == user or row.get("WhoId") or row.get("WhatId"):
            return True
        record_id = row.get("Id")
        return any(
            r.get("EventId") == record_id and r.get("RelationId") == user and not r.get("IsDeleted")
            for r in self._by_type.get("EventRelation", {}).values()
        )

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
            profile = obj.save_profile()
            junctions = {k: given.pop(k) for k in list(given) if k in profile.junctions}
            row: dict[str, Any] = dict(profile.defaults)
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
