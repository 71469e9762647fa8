"""One record at a time: create, get, update and delete by Id; get, upsert and delete by external
ID; and replication (getUpdated / getDeleted) of an object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rgsync.sandbox.http import Request, Response

from .. import ids
from ..errors import RecordError, RequestError
from ..values import parse_datetime, to_json
from .common import RouteGroup, _error, _json_body, _not_found


class SObjectRoutes(RouteGroup):
    """sobjects/{type}/, sobjects/{type}/{id}, sobjects/{type}/{field}/{value}, …/updated, …/deleted"""

    def _create(self, request: Request, type_name: str, version: str) -> Response:
        obj = self.org.object_type(type_name)
        body = _json_body(request)
        if not isinstance(body, dict):
            raise RequestError(
                "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from START_ARRAY value"
            )
        new_id = self._atomic(lambda: self.org.insert(obj.name, body))
        return Response(
            201,
            {"id": new_id, "success": True, "errors": []},
            headers={"Location": f"/services/data/v{version}/sobjects/{obj.name}/{new_id}"},
        )

    def _atomic(self, write: Callable[[], Any]) -> Any:
        """Run one record write so that a refusal leaves no half-written companions behind."""
        mark = self.org.savepoint()
        try:
            result = write()
        except BaseException:
            self.org.rollback(mark)
            raise
        self.org.release(mark)
        return result

    def _record(self, request: Request, type_name: str, record_id: str, version: str) -> Response:
        obj = self.org.object_type(type_name)
        normal = ids.normalize(record_id)
        row = self.org.row(normal) if normal else None
        if row is None or row["IsDeleted"] or self.org.type_of(row["Id"]) != obj.name:
            return _not_found()
        if request.method in ("GET", "HEAD"):
            return Response(
                200, self._record_json(row, version, self._fields_param(obj, request.param("fields")))
            )
        if request.method == "PATCH":
            body = _json_body(request)
            if not isinstance(body, dict):
                raise RequestError(
                    "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from START_ARRAY value"
                )
            self._atomic(lambda: self.org.update(row["Id"], body))
            return Response(204, None)
        self._atomic(lambda: self.org.delete(row["Id"]))
        return Response(204, None)

    def _by_external_id(
        self, request: Request, type_name: str, field_name: str, value: str, version: str
    ) -> Response:
        obj = self.org.object_type(type_name)
        spec = obj.field(field_name)
        if spec is None or not (spec.external_id or spec.id_lookup or spec.name == "Id"):
            return _error(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        if request.method == "PATCH":
            body = _json_body(request)
            if not isinstance(body, dict):
                raise RequestError(
                    "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from START_ARRAY value"
                )
            if request.param("updateOnly", "false") == "true" and not self.org.find(
                obj.name, spec.name, value
            ):
                return _not_found()
            try:
                record_id, created = self._atomic(lambda: self.org.upsert(obj.name, spec.name, value, body))
            except RecordError as refused:
                if refused.status == 300:
                    return self._multiple(obj.name, getattr(refused, "matches", []), version)
                raise
            return Response(
                201 if created else 200,
                {"id": record_id, "success": True, "errors": [], "created": created},
                headers={"Location": f"/services/data/v{version}/sobjects/{obj.name}/{record_id}"},
            )
        matches = self.org.find(obj.name, spec.name, value)
        if not matches:
            return _not_found()
        if len(matches) > 1:
            return self._multiple(obj.name, matches, version)
        if request.method == "DELETE":
            self._atomic(lambda: self.org.delete(matches[0]))
            return Response(204, None)
        row = self.org.row(matches[0]) or {}
        return Response(
            200, self._record_json(row, version, self._fields_param(obj, request.param("fields")))
        )

    def _multiple(self, type_name: str, matches: list[str], version: str) -> Response:
        return Response(300, [f"/services/data/v{version}/sobjects/{type_name}/{m}" for m in matches])

    # --- replication ----------------------------------------------------------------------------

    def _replication(self, request: Request, type_name: str, kind: str) -> Response:
        obj = self.org.object_type(type_name)
        try:
            start = parse_datetime(request.param("start") or "")
            end = parse_datetime(request.param("end") or "")
        except ValueError:
            return _error(
                400,
                "INVALID_REPLICATION_DATE",
                "start and end must be ISO 8601 date-times, e.g. 2026-11-28T10:00:00+00:00",
            )
        if not obj.replicateable:
            return _error(
                400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support replication"
            )
        if kind == "updated":
            found, latest = self.org.updated_ids(obj.name, start, end)
            return Response(200, {"ids": found, "latestDateCovered": to_json(latest)})
        records, earliest, latest = self.org.deleted_records(obj.name, start, end)
        return Response(
            200,
            {
                "deletedRecords": [{"id": rid, "deletedDate": to_json(when)} for rid, when in records],
                "earliestDateAvailable": to_json(earliest),
                "latestDateCovered": to_json(latest),
            },
        )
