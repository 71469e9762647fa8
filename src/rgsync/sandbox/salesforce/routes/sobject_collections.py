"""sObject Collections: create, update and delete up to 200 records (in at most 10 type chunks),
upsert by external ID and retrieve by Ids; per-record results, with allOrNone rolling all back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from rgsync.sandbox.http import Request, Response

from .. import ids
from ..errors import RecordError, RequestError
from .common import COLLECTION_LIMIT, RouteGroup, _error, _json_body

RETRIEVE_LIMIT = 2000
MAX_CHUNKS = 10
ROLLED_BACK = (
    "Record rolled back because not all records were valid and the request was using AllOrNone header"
)


class CollectionRoutes(RouteGroup):
    """composite/sobjects/, composite/sobjects/{type} and composite/sobjects/{type}/{field}."""

    def _collection_write(self, request: Request, version: str, force_all_or_none: bool = False) -> Response:
        if request.method == "DELETE":
            raw_ids = [i for i in (request.param("ids") or "").split(",") if i]
            all_or_none = (request.param("allOrNone") or "false").lower() == "true" or force_all_or_none
            if not raw_ids:
                return _error(400, "MISSING_ARGUMENT", "ids parameter is required")
            if len(raw_ids) > COLLECTION_LIMIT:
                return _exceeded()
            return self._run_collection(
                [(None, rid) for rid in raw_ids],
                lambda item: (None, self.org.delete(item[1])),
                all_or_none,
                with_id=True,
            )
        body = _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise RequestError("JSON_PARSER_ERROR", "The request body must be an object with a records array")
        records: list[Any] = body["records"]
        all_or_none = bool(body.get("allOrNone", False)) or force_all_or_none
        if len(records) > COLLECTION_LIMIT:
            return _exceeded()
        types: list[str] = []
        for record in records:
            kind = (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
            if not kind:
                raise RequestError(
                    "INVALID_INPUT", "No SObject Type defined in the attributes map of a record"
                )
            types.append(self.org.object_type(kind).name)
        chunks = sum(1 for i, t in enumerate(types) if i == 0 or types[i - 1] != t)
        if chunks > MAX_CHUNKS:
            raise RequestError(
                "INVALID_BATCH_REQUEST",
                "Cannot have more than 10 chunks in a single operation. Please rearrange the data to reduce chunking.",
            )
        items = list(zip(types, records, strict=True))
        if request.method == "POST":

            def create(item: tuple[str, dict[str, Any]]) -> tuple[None, str]:
                kind, record = item
                if any(k.lower() == "id" for k in record):
                    raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
                return None, self.org.insert(kind, record)

            return self._run_collection(items, create, all_or_none, with_id=False)

        def update(item: tuple[str, dict[str, Any]]) -> tuple[None, str]:
            kind, record = item
            record_id = next((v for k, v in record.items() if k.lower() == "id"), None)
            if not record_id:
                raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call")
            return None, self.org.update(record_id, record, expected_type=kind)

        return self._run_collection(items, update, all_or_none, with_id=True)

    def _run_collection(
        self, items: list[Any], write: Callable[[Any], tuple[Any, str]], all_or_none: bool, *, with_id: bool
    ) -> Response:
        """Write items in order; per-record errors in the results; allOrNone rolls all back."""
        outer = self.org.savepoint()
        results: list[dict[str, Any]] = []
        failed = False
        for item in items:
            stated = _stated_id(item)
            mark = self.org.savepoint()
            try:
                extra, record_id = write(item)
            except RecordError as refused:
                self.org.rollback(mark)
                failed = True
                result: dict[str, Any] = {
                    "success": False,
                    "errors": [e.as_record_error() for e in refused.errors],
                }
                if with_id:
                    result = {"id": stated, **result}
                results.append(result)
                continue
            except RequestError:
                self.org.rollback(mark)
                self.org.rollback(outer)
                raise
            self.org.release(mark)
            result = {"id": record_id, "success": True, "errors": []}
            if extra is not None:
                result["created"] = extra
            results.append(result)
        if failed and all_or_none:
            self.org.rollback(outer)
            rolled_back = {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": ROLLED_BACK,
                "fields": [],
            }
            results = [
                r
                if not r["success"]
                else {"id": r["id"] if with_id else None, "success": False, "errors": [rolled_back]}
                for r in results
            ]
        else:
            self.org.release(outer)
        return Response(200, results)

    def _collection_upsert(
        self, request: Request, type_name: str, field_name: str, version: str, force_all_or_none: bool | None
    ) -> Response:
        obj = self.org.object_type(type_name)
        spec = obj.field(field_name)
        if spec is None or not (spec.external_id or spec.name == "Id"):
            return _error(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        body = _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise RequestError("JSON_PARSER_ERROR", "The request body must be an object with a records array")
        records: list[Any] = body["records"]
        if len(records) > COLLECTION_LIMIT:
            return _exceeded()
        for record in records:
            kind = (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
            if kind and kind.lower() != obj.name.lower():
                raise RequestError(
                    "INVALID_INPUT", f"All records must be of type {obj.name} in an upsert call"
                )
        all_or_none = bool(body.get("allOrNone", False)) or bool(force_all_or_none)
        keys = [next((v for k, v in r.items() if k.lower() == spec.name.lower()), None) for r in records]
        counts = Counter(str(k).casefold() for k in keys if k is not None)

        def upsert(item: tuple[Any, dict[str, Any]]) -> tuple[bool, str]:
            key, record = item
            if key is None or key == "":
                raise RecordError("MISSING_ARGUMENT", f"{spec.name} not specified", [spec.name])
            if counts[str(key).casefold()] > 1:
                raise RecordError(
                    "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {key}", [spec.name]
                )
            try:
                record_id, created = self.org.upsert(obj.name, spec.name, key, record)
            except RecordError as refused:
                if refused.status == 300:
                    raise RecordError(
                        "DUPLICATE_EXTERNAL_ID",
                        f"{spec.name}: more than one record found for external id field: {key}",
                        [spec.name],
                    ) from None
                raise
            return created, record_id

        response = self._run_collection(
            list(zip(keys, records, strict=True)), upsert, all_or_none, with_id=True
        )
        for result in response.body:
            result.setdefault("created", False)
            if not result["success"]:
                result["id"] = None
        return response

    def _collection_retrieve(self, request: Request, type_name: str, version: str) -> Response:
        obj = self.org.object_type(type_name)
        if request.method == "POST":
            body = _json_body(request)
            wanted_ids = list(body.get("ids") or []) if isinstance(body, dict) else []
            field_names = ",".join(body.get("fields") or []) if isinstance(body, dict) else ""
            limit = RETRIEVE_LIMIT
        else:
            wanted_ids = [i for i in (request.param("ids") or "").split(",") if i]
            field_names = request.param("fields") or ""
            limit = COLLECTION_LIMIT
        if not wanted_ids or not field_names:
            return _error(400, "MISSING_ARGUMENT", "ids and fields are required")
        if len(wanted_ids) > limit:
            return _exceeded()
        fields = self._fields_param(obj, field_names)
        out: list[dict[str, Any] | None] = []
        for raw in wanted_ids:
            row = self.org.row(raw)
            if row is None or row["IsDeleted"] or self.org.type_of(row["Id"]) != obj.name:
                out.append(None)
            else:
                out.append(self._record_json(row, version, fields))
        return Response(200, out)


def _stated_id(item: Any) -> str | None:
    if isinstance(item, tuple) and len(item) == 2:
        first, second = item
        if first is None and isinstance(second, str):
            return ids.normalize(second) or second
        if isinstance(second, dict):
            raw = next((v for k, v in second.items() if k.lower() == "id"), None)
            return ids.normalize(raw) or raw if isinstance(raw, str) else None
    return None


def _exceeded() -> Response:
    return _error(
        400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
    )
