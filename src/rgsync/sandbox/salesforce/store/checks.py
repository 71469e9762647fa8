"""What a save is refused for: unknown or read-only fields, unreadable values, missing required
fields, too-long text, bad email addresses, restricted picklists, dangling references,
validation rules and duplicate unique values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import ids
from ..errors import RecordError, RequestError
from ..schema import SObjectType
from ..values import _TEXT, parse_value
from .state import OrgState

AUDIT_FIELDS = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp")
_STRING_KINDS = _TEXT | {"id", "reference"}
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SaveChecks(OrgState):
    """The checks `Org.insert` and `Org.update` run before storing a row."""

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
            if type(raw) is str and spec.type in _STRING_KINDS:
                out[spec.name] = raw  # what parse_value gives a string for a text field, without the call
            else:
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
        profile = obj.save_profile()
        missing = [
            f.name
            for f in profile.required
            if (f.name != "OwnerId" or previous is not None)  # defaults to the acting user
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
        for spec in profile.unique:
            if row.get(spec.name) is not None and spec.name in given:
                value = row[spec.name]
                key = _match_key(value, spec.case_sensitive)
                # Text values go through the field index (a superset, checked again below)
                # rather than a scan of every record of the type on each save.
                others = (
                    self.indexed_rows(obj.name, spec.name, [value])
                    if isinstance(value, str)
                    else self._by_type[obj.name].values()
                )
                for other in others:
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
