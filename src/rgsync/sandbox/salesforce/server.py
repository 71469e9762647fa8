"""The Salesforce REST API over the emulated org, served by `rgsync.sandbox.http.EmulatorServer`.

Paths live under `/services/data/vXX.X/` (any version from 50.0 up) plus the OAuth endpoints
(see `oauth.py`). Every REST call needs `Authorization: Bearer <token>` (401 INVALID_SESSION_ID
otherwise), is charged to the daily allocation (403 REQUEST_LIMIT_EXCEEDED when spent) and is
answered with `Sforce-Limit-Info: api-usage=N/M`. Errors use Salesforce's shape
`[{"message", "errorCode", "fields"}]`.

Where the public documents give a limit but not the exact refusal (more than 10 type chunks in a
collection, more than 25 or 5 Composite subrequests), the emulator answers 400 with
INVALID_BATCH_REQUEST / LIMIT_EXCEEDED and a message naming the limit.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from rgsync.sandbox.http import Fault, FaultPlan, Request, Response

from . import ids, soql
from .oauth import OAuthService, Session
from .store import Org, RecordError, RequestError, SalesforceError, parse_datetime, to_json

if TYPE_CHECKING:
    from rgsync.sandbox.http import EmulatorServer

    from .schema import SObjectType

MIN_VERSION = 50.0
MAX_URI_BYTES = 16384
COLLECTION_LIMIT = 200
RETRIEVE_LIMIT = 2000
MAX_CHUNKS = 10
COMPOSITE_LIMIT = 25
COMPOSITE_HEAVY_LIMIT = 5
DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_BATCH = 2000
CURSOR_LIFETIME = timedelta(days=2)
ROLLED_BACK = (
    "Record rolled back because not all records were valid and the request was using AllOrNone header"
)
_VERSION_PATH = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")
_REFERENCE = re.compile(r"@\{([A-Za-z0-9][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_REFERENCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")


def _error(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    return Response(status, [{"message": message, "errorCode": code, "fields": fields or []}])


def _not_found() -> Response:
    return _error(404, "NOT_FOUND", "The requested resource does not exist")


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    batch: int
    created: datetime


@dataclass
class _Route:
    name: str
    run: Callable[[], Response]
    heavy: bool = False  # counts towards Composite's 5 query/collections subrequests


_RouteMaker = Callable[..., _Route]


class SalesforceEmulator:
    """The REST API and OAuth endpoints of one emulated org.

    `sessions` maps access tokens to users (add one with `register_token`); `subrequests`
    counts Composite subrequests per route name (HTTP calls are counted by the server).
    """

    def __init__(self, org: Org) -> None:
        self.org = org
        self.sessions: dict[str, Session] = {}
        self.oauth = OAuthService(org, self.sessions)
        self.cursors: dict[str, _Cursor] = {}
        self.subrequests: Counter[str] = Counter()
        self.server: EmulatorServer | None = None
        self._cursor_count = 0

    # --- set-up -------------------------------------------------------------------------------

    @property
    def instance_url(self) -> str:
        return self.oauth.instance_url

    def attach(self, server: EmulatorServer) -> None:
        """Remember the server (for fault helpers) and its URL (for instance_url and OAuth)."""
        self.server = server
        self.oauth.instance_url = server.url

    def register_token(self, token: str, user_id: str) -> None:
        """Accept `token` as a Bearer token acting as `user_id`."""
        self.sessions[token] = Session(user_id)

    # --- fault helpers ------------------------------------------------------------------------

    def _faults(self) -> FaultPlan:
        if self.server is None:
            raise RuntimeError("the emulator is not being served yet")
        return self.server.faults

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.org.api_used}/{self.org.api_limit}"}

    def fail_nth(
        self,
        n: int,
        status: int = 500,
        error_code: str = "UNKNOWN_EXCEPTION",
        message: str | None = None,
        *,
        match: str = ".*",
    ) -> Fault:
        """Make the n-th matching call (counted from now) fail with `status` and `error_code`."""
        body = [
            {"message": message or f"An unexpected error occurred ({error_code})", "errorCode": error_code}
        ]
        return self._faults().add(
            Fault(match=match, nth=n, response=Response(status, body, headers=self._limit_header()))
        )

    def inject_503(self, times: int = 1, *, match: str = r"^\w+ /services/data/") -> Fault:
        """The next `times` matching calls answer 503 SERVER_UNAVAILABLE (maintenance, overload)."""
        body = [
            {"message": "Server temporarily unavailable, please retry", "errorCode": "SERVER_UNAVAILABLE"}
        ]
        return self._faults().add(Fault(match=match, times=times, response=Response(503, body)))

    def inject_request_limit(self, times: int = 1, *, match: str = r"^\w+ /services/data/") -> Fault:
        """The next `times` matching calls answer 403 REQUEST_LIMIT_EXCEEDED (without spending the allocation)."""
        body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        return self._faults().add(
            Fault(match=match, times=times, response=Response(403, body, headers=self._limit_header()))
        )

    def drop_connection_nth(self, n: int, *, match: str = ".*") -> Fault:
        """Close the connection without answering on the n-th matching call (counted from now)."""
        return self._faults().add(Fault(match=match, nth=n, drop=True))

    def add_latency(self, seconds: float, times: int = 1, *, match: str = ".*") -> Fault:
        """Delay the next `times` matching calls by `seconds` (through the server's `sleep`)."""
        return self._faults().add(Fault(match=match, times=times, latency=seconds))

    def expire_session(self, token: str) -> None:
        """Invalidate an access token: its next call gets 401 INVALID_SESSION_ID."""
        self.sessions.pop(token, None)

    def set_allocation(self, used: int, limit: int | None = None) -> None:
        """Set today's API usage (and optionally the daily allocation)."""
        self.org.set_allocation(used, limit)

    def expire_query_cursors(self) -> None:
        """Forget every open query cursor (nextRecordsUrl then answers INVALID_QUERY_LOCATOR)."""
        self.cursors.clear()

    # --- entry points ---------------------------------------------------------------------

    def route_name(self, request: Request) -> str:
        """A short stable name for the call, for per-endpoint counters."""
        if _uri_length(request) > MAX_URI_BYTES:
            return "uri_too_long"
        if request.path.startswith(("/services/oauth2/", "/id/")):
            return self.oauth.route_name(request)
        match = _VERSION_PATH.match(request.path)
        if match is None:
            return "versions" if request.path.rstrip("/") == "/services/data" else "unknown"
        route = self._route(request, match.group(1), match.group(2) or "/")
        return route.name if route is not None else "unknown"

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request."""
        if _uri_length(request) > MAX_URI_BYTES:
            return _error(414, "URI_TOO_LONG", f"The request URI is longer than {MAX_URI_BYTES} bytes")
        if request.path.startswith(("/services/oauth2/", "/id/")):
            with self.org.lock:
                return self.oauth.handle(request)
        if request.path.rstrip("/") == "/services/data":
            return Response(200, _versions())
        match = _VERSION_PATH.match(request.path)
        if match is None:
            return _not_found()
        version = match.group(1)
        if float(version) < MIN_VERSION:
            return _not_found()
        session = self.sessions.get(request.header("authorization").removeprefix("Bearer ").strip())
        if session is None:
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        with self.org.lock:
            self.org.acting_user_id = session.user_id
            try:
                self.org.count_api_call()
            except RequestError as refused:
                return Response(refused.status, refused.body(), headers=self._limit_header())
            response = self._dispatch(request, version, match.group(2) or "/")
            response.headers.update(self._limit_header())
            return response

    def _dispatch(self, request: Request, version: str, rest: str) -> Response:
        route = self._route(request, version, rest)
        if route is None:
            return _not_found()
        try:
            return route.run()
        except SalesforceError as refused:
            return Response(refused.status, refused.body())

    # --- routing -----------------------------------------------------------------------------

    def _route(self, request: Request, version: str, rest: str) -> _Route | None:
        parts = [unquote(p) for p in rest.strip("/").split("/")] if rest.strip("/") else []
        method = request.method

        def route(
            name: str, run: Callable[[], Response], allowed: tuple[str, ...] = ("GET",), heavy: bool = False
        ) -> _Route:
            if method not in allowed and not (method == "HEAD" and "GET" in allowed):
                return _Route(name, lambda: _method_not_allowed(method, allowed))
            return _Route(name, run, heavy)

        if not parts:
            return route("resources", lambda: Response(200, _resources(version)))
        head, tail = parts[0], parts[1:]
        if head == "limits" and not tail:
            return route("limits", self._limits)
        if head in ("query", "queryAll"):
            everything = head == "queryAll"
            if not tail:
                return route(head, lambda: self._query(request, version, everything), heavy=True)
            if len(tail) == 1:
                return route("query.more", lambda: self._query_more(tail[0], version), heavy=True)
            return None
        if head == "sobjects":
            return self._sobject_route(request, version, tail, route)
        if head == "composite":
            if not tail:
                return route("composite", lambda: self._composite(request, version), ("POST",))
            if tail[0] == "sobjects":
                return self._collections_route(request, version, tail[1:], route)
        return None

    def _sobject_route(
        self, request: Request, version: str, tail: list[str], route: _RouteMaker
    ) -> _Route | None:
        method = request.method
        if not tail:
            return route("describe.global", lambda: self._describe_global(version))
        type_name = tail[0]
        if len(tail) == 1:
            if method == "POST":
                return route("sobject.create", lambda: self._create(request, type_name, version), ("POST",))
            return route("sobject.info", lambda: self._info(type_name, version))
        second = tail[1]
        if len(tail) == 2 and second == "describe":
            return route("describe", lambda: self._describe(type_name, version))
        if len(tail) == 2 and second in ("updated", "deleted"):
            return route(second, lambda: self._replication(request, type_name, second))
        if second == "listviews":
            if len(tail) == 2:
                return route("listviews", lambda: self._list_views(type_name, version))
            if len(tail) == 4 and tail[3] == "describe":
                return route(
                    "listview.describe", lambda: self._list_view_describe(type_name, tail[2], version)
                )
            if len(tail) == 4 and tail[3] == "results":
                return route("listview.results", lambda: self._list_view_results(type_name, tail[2], version))
            return None
        if len(tail) == 2:
            if method == "POST" and second.lower() == "id":
                return route("sobject.create", lambda: self._create(request, type_name, version), ("POST",))
            names = {"GET": "sobject.get", "PATCH": "sobject.update", "DELETE": "sobject.delete"}
            return route(
                names.get(method, "sobject.get"),
                lambda: self._record(request, type_name, second, version),
                ("GET", "PATCH", "DELETE"),
            )
        if len(tail) == 3:
            names = {
                "GET": "sobject.get_by_external_id",
                "PATCH": "sobject.upsert",
                "DELETE": "sobject.delete_by_external_id",
            }
            return route(
                names.get(method, "sobject.upsert"),
                lambda: self._by_external_id(request, type_name, second, tail[2], version),
                ("GET", "PATCH", "DELETE"),
            )
        return None

    def _collections_route(
        self, request: Request, version: str, tail: list[str], route: _RouteMaker
    ) -> _Route | None:
        method = request.method
        if not tail:
            names = {
                "POST": "collections.create",
                "PATCH": "collections.update",
                "DELETE": "collections.delete",
            }
            return route(
                names.get(method, "collections.create"),
                lambda: self._collection_write(request, version),
                ("POST", "PATCH", "DELETE"),
                heavy=True,
            )
        if len(tail) == 1:
            return route(
                "collections.retrieve",
                lambda: self._collection_retrieve(request, tail[0], version),
                ("GET", "POST"),
                heavy=True,
            )
        if len(tail) == 2:
            return route(
                "collections.upsert",
                lambda: self._collection_upsert(request, tail[0], tail[1], version, None),
                ("PATCH",),
                heavy=True,
            )
        return None

    # --- plain resources ---------------------------------------------------------------------

    def _limits(self) -> Response:
        def pair(limit: int, used: int = 0) -> dict[str, int]:
            return {"Max": limit, "Remaining": max(0, limit - used)}

        return Response(
            200,
            {
                "DailyApiRequests": pair(self.org.api_limit, self.org.api_used),
                "DailyBulkApiBatches": pair(15000),
                "DailyBulkV2QueryJobs": pair(10000),
                "DataStorageMB": pair(1024),
                "FileStorageMB": pair(1024),
                "SingleEmail": pair(5000),
            },
        )

    def _describe_global(self, version: str) -> Response:
        return Response(
            200,
            {
                "encoding": "UTF-8",
                "maxBatchSize": COLLECTION_LIMIT,
                "sobjects": [
                    self._object_flags(obj, obj.describe_global(version)) for obj in self.org.objects.values()
                ],
            },
        )

    def _object_flags(self, obj: SObjectType, body: dict[str, Any]) -> dict[str, Any]:
        body["createable"] = self.org.is_createable(obj)
        return body

    def _info(self, type_name: str, version: str) -> Response:
        obj = self.org.object_type(type_name)
        return Response(
            200, {"objectDescribe": self._object_flags(obj, obj.describe_global(version)), "recentItems": []}
        )

    def _describe(self, type_name: str, version: str) -> Response:
        obj = self.org.object_type(type_name)
        body = self._object_flags(obj, obj.describe(version))
        if not self.org.shared_activities and obj.name in ("Task", "Event"):
            body["fields"] = [f for f in body["fields"] if f["type"] != "junctionidlist"]
        if not body["createable"]:
            for entry in body["fields"]:
                entry["createable"] = False
        body["childRelationships"] = [
            {"childSObject": child, "field": link, "relationshipName": name, "cascadeDelete": True}
            for name, (child, link) in soql.CHILD_RELATIONSHIPS.get(obj.name, {}).items()
        ]
        return Response(200, body)

    # --- records ------------------------------------------------------------------------------

    def _record_json(
        self, row: dict[str, Any], version: str, fields: list[str] | None = None
    ) -> dict[str, Any]:
        kind = self.org.type_of(row["Id"]) or ""
        obj = self.org.objects[kind]
        names = (
            [f.name for f in obj.fields.values() if f.type != "junctionidlist"] if fields is None else fields
        )
        record: dict[str, Any] = {
            "attributes": {"type": kind, "url": f"/services/data/v{version}/sobjects/{kind}/{row['Id']}"}
        }
        for name in names:
            record[name] = to_json(row.get(name))
        return record

    def _fields_param(self, obj: SObjectType, raw: str | None) -> list[str] | None:
        if not raw:
            return None
        names: list[str] = []
        for name in (n.strip() for n in raw.split(",") if n.strip()):
            spec = obj.field(name)
            if spec is None:
                raise RequestError(
                    "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", [name]
                )
            names.append(spec.name)
        return names

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

    # --- query --------------------------------------------------------------------------------

    def _query(self, request: Request, version: str, everything: bool) -> Response:
        text = request.param("q")
        if text is None:
            return _error(400, "MALFORMED_QUERY", "A query string has to be specified")
        result = soql.run(self.org, text, include_deleted=everything, version=version)
        batch = _batch_size(request.header("sforce-query-options"))
        if len(result.records) <= batch:
            return Response(200, {"totalSize": result.total_size, "done": True, "records": result.records})
        self._cursor_count += 1
        locator = ids.mint("01g", self._cursor_count)
        self.cursors[locator] = _Cursor(result.records, batch, self.org.clock())
        return Response(200, self._page(locator, 0, version))

    def _page(self, locator: str, offset: int, version: str) -> dict[str, Any]:
        cursor = self.cursors[locator]
        records = cursor.records[offset : offset + cursor.batch]
        end = offset + len(records)
        page: dict[str, Any] = {
            "totalSize": len(cursor.records),
            "done": end >= len(cursor.records),
            "records": records,
        }
        if not page["done"]:
            page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        return page

    def _query_more(self, token: str, version: str) -> Response:
        locator, _, offset_text = token.partition("-")
        cursor = self.cursors.get(locator)
        if cursor is not None and self.org.clock() - cursor.created > CURSOR_LIFETIME:
            del self.cursors[locator]
            cursor = None
        if cursor is None or not offset_text.isdigit() or int(offset_text) > len(cursor.records):
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return Response(200, self._page(locator, int(offset_text), version))

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

    # --- list views -----------------------------------------------------------------------------

    def _view(self, type_name: str, view_id: str) -> Any:
        obj = self.org.object_type(type_name)
        normal = ids.normalize(view_id)
        spec = self.org.list_views.get(normal or "")
        if spec is None:
            spec = next((v for v in self.org.list_views.values() if v.developer_name == view_id), None)
        if spec is None or spec.object != obj.name:
            raise RequestError("NOT_FOUND", "The requested resource does not exist", status=404)
        return spec

    def _list_views(self, type_name: str, version: str) -> Response:
        obj = self.org.object_type(type_name)
        base = f"/services/data/v{version}/sobjects/{obj.name}/listviews"
        views = [
            {
                "describeUrl": f"{base}/{v.id}/describe",
                "developerName": v.developer_name,
                "id": v.id,
                "label": v.label,
                "resultsUrl": f"{base}/{v.id}/results",
                "soqlCompatible": True,
                "url": f"{base}/{v.id}",
            }
            for v in self.org.list_views.values()
            if v.object == obj.name
        ]
        return Response(
            200,
            {
                "done": True,
                "listviews": views,
                "nextRecordsUrl": None,
                "size": len(views),
                "sobjectType": obj.name,
            },
        )

    def _list_view_describe(self, type_name: str, view_id: str, version: str) -> Response:
        spec = self._view(type_name, view_id)
        columns = [
            {
                "fieldNameOrPath": c,
                "label": c,
                "sortable": True,
                "hidden": c in ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp"),
            }
            for c in spec.query().split(" FROM ")[0].removeprefix("SELECT ").split(", ")
        ]
        return Response(
            200,
            {
                "columns": columns,
                "id": spec.id,
                "orderBy": [
                    {"fieldNameOrPath": spec.order_by, "nullsPosition": "first", "sortDirection": "ascending"}
                ],
                "query": spec.query(),
                "relatedEntityId": None,
                "scope": None,
                "scopeEntityId": None,
                "sobjectType": spec.object,
                "whereCondition": {"conditions": [], "conjunction": "and"} if spec.where else None,
            },
        )

    def _list_view_results(self, type_name: str, view_id: str, version: str) -> Response:
        spec = self._view(type_name, view_id)
        result = soql.run(self.org, spec.query(), version=version)
        names = spec.query().split(" FROM ")[0].removeprefix("SELECT ").split(", ")
        records = []
        for record in result.records:
            columns = []
            for name in names:
                value: Any = record
                for part in name.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                columns.append({"fieldNameOrPath": name, "value": value})
            records.append({"columns": columns})
        return Response(
            200,
            {
                "columns": [],
                "developerName": spec.developer_name,
                "done": True,
                "id": spec.id,
                "label": spec.label,
                "records": records,
                "size": len(records),
            },
        )

    # --- sObject Collections --------------------------------------------------------------------

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

    # --- Composite ------------------------------------------------------------------------------

    def _composite(self, request: Request, version: str) -> Response:
        body = _json_body(request)
        subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(subrequests, list) or not subrequests:
            raise RequestError(
                "JSON_PARSER_ERROR", "compositeRequest is required and must be a non-empty array"
            )
        if len(subrequests) > COMPOSITE_LIMIT:
            raise RequestError(
                "LIMIT_EXCEEDED", f"A composite request can contain at most {COMPOSITE_LIMIT} subrequests"
            )
        all_or_none = bool(body.get("allOrNone", False))
        parsed: list[tuple[str, str, str, str, dict[str, str]]] = []
        seen: set[str] = set()
        heavy = 0
        for sub in subrequests:
            if not isinstance(sub, dict):
                raise RequestError("JSON_PARSER_ERROR", "Each subrequest must be an object")
            reference = str(sub.get("referenceId") or "")
            if not _REFERENCE_ID.match(reference):
                raise RequestError(
                    "INVALID_INPUT",
                    f"Provided referenceId ('{reference}') must start with a letter or a number, and it can contain "
                    "only letters, numbers and underscores ('_').",
                )
            if reference in seen:
                raise RequestError(
                    "INVALID_INPUT", f"Duplicate referenceId provided in the request: {reference}"
                )
            seen.add(reference)
            method = str(sub.get("method") or "").upper()
            if method not in ("GET", "POST", "PATCH", "PUT", "DELETE"):
                raise RequestError(
                    "INVALID_INPUT", f"Invalid method for subrequest {reference}: {sub.get('method')}"
                )
            url = str(sub.get("url") or "")
            sub_request = _sub_request(method, url, "", {}, request)
            match = _VERSION_PATH.match(sub_request.path)
            if match is None:
                raise RequestError("INVALID_INPUT", f"Invalid url for subrequest {reference}: {url}")
            route = self._route(sub_request, match.group(1), match.group(2) or "/")
            if route is not None and route.heavy:
                heavy += 1
            body_text = json.dumps(sub["body"]) if sub.get("body") is not None else ""
            parsed.append((reference, method, url, body_text, dict(sub.get("httpHeaders") or {})))
        if heavy > COMPOSITE_HEAVY_LIMIT:
            raise RequestError(
                "LIMIT_EXCEEDED",
                f"A composite request can contain at most {COMPOSITE_HEAVY_LIMIT} query or sObject Collections subrequests",
            )
        outer = self.org.savepoint()
        responses: list[dict[str, Any]] = []
        results: dict[str, Any] = {}
        failed_refs: set[str] = set()
        halted = False
        for reference, method, url, body_text, headers in parsed:
            if halted:
                responses.append(
                    _halted(
                        reference,
                        "The transaction was rolled back since another operation in the same transaction failed.",
                    )
                )
                continue
            try:
                resolved = _sub_request(
                    method,
                    _substitute(url, results, in_json=False),
                    _substitute(body_text, results, in_json=True),
                    headers,
                    request,
                )
            except _Unresolved as missing:
                failed_refs.add(reference)
                responses.append(_halted(reference, str(missing)))
                if all_or_none:
                    halted = True
                continue
            response = self._subrequest(resolved, all_or_none)
            ok = response.status < 400 and not (all_or_none and _collection_failed(response))
            entry = {
                "body": response.body,
                "httpHeaders": {k: v for k, v in response.headers.items() if k == "Location"},
                "httpStatusCode": response.status,
                "referenceId": reference,
            }
            responses.append(entry)
            if ok:
                results[reference] = response.body
            else:
                failed_refs.add(reference)
                if all_or_none:
                    halted = True
        if halted:
            self.org.rollback(outer)
            message = (
                "The transaction was rolled back since another operation in the same transaction failed."
            )
            responses = [
                r if r["referenceId"] in failed_refs else _halted(r["referenceId"], message)
                for r in responses
            ]
        else:
            self.org.release(outer)
        return Response(200, {"compositeResponse": responses})

    def _subrequest(self, request: Request, force_all_or_none: bool) -> Response:
        match = _VERSION_PATH.match(request.path)
        assert match is not None
        version, rest = match.group(1), match.group(2) or "/"
        route = self._route(request, version, rest)
        if route is None:
            return _not_found()
        self.subrequests[route.name] += 1
        if route.name == "composite":
            return _error(400, "INVALID_INPUT", "A composite request can't contain another composite request")
        try:
            if force_all_or_none and route.name in (
                "collections.create",
                "collections.update",
                "collections.delete",
            ):
                return self._collection_write(request, version, force_all_or_none=True)
            if force_all_or_none and route.name == "collections.upsert":
                parts = rest.strip("/").split("/")
                return self._collection_upsert(request, parts[2], parts[3], version, True)
            return route.run()
        except SalesforceError as refused:
            return Response(refused.status, refused.body())


class _Unresolved(Exception):
    pass


def _collection_failed(response: Response) -> bool:
    return isinstance(response.body, list) and any(
        isinstance(r, dict) and r.get("success") is False for r in response.body
    )


def _halted(reference: str, message: str) -> dict[str, Any]:
    return {
        "body": [{"errorCode": "PROCESSING_HALTED", "message": message}],
        "httpHeaders": {},
        "httpStatusCode": 400,
        "referenceId": reference,
    }


def _lookup(value: Any, path: str) -> Any:
    for step in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        name, index = step
        if name:
            if not isinstance(value, dict):
                raise KeyError(name)
            key = next((k for k in value if k.lower() == name.lower()), None)
            if key is None:
                raise KeyError(name)
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise KeyError(index)
            value = value[int(index)]
    return value


def _substitute(text: str, results: dict[str, Any], *, in_json: bool) -> str:
    """Replace every @{ref.path} in a subrequest's URL or JSON body with the referenced value."""

    def one(match: re.Match[str]) -> str:
        reference, path = match.group(1), match.group(2)
        if reference not in results:
            raise _Unresolved(
                f"Invalid reference specified. No value for {reference}{path} found in {reference}. "
                f"Provided referenceId ('{reference}{path}') must start with a letter or a number, and it can "
                "contain only letters, numbers and underscores ('_')."
            )
        try:
            value = _lookup(results[reference], path)
        except KeyError:
            raise _Unresolved(
                f"Invalid reference specified. No value for {reference}{path} found in {reference}."
            ) from None
        text_value = value if isinstance(value, str) else json.dumps(value)
        return json.dumps(text_value)[1:-1] if in_json else str(text_value)

    return _REFERENCE.sub(one, text)


def _sub_request(method: str, url: str, body: str, headers: dict[str, str], parent: Request) -> Request:
    parts = urlsplit(url)
    merged = dict(parent.headers)
    merged.update(
        {
            k.lower(): str(v)
            for k, v in headers.items()
            if k.lower() not in ("authorization", "content-type", "accept")
        }
    )
    return Request(
        method=method,
        path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=merged,
        body=body.encode("utf-8"),
    )


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


def _method_not_allowed(method: str, allowed: tuple[str, ...]) -> Response:
    return _error(
        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}"
    )


def _json_body(request: Request) -> Any:
    if not request.body:
        raise RequestError("JSON_PARSER_ERROR", "No content to map due to end-of-input at [line:1, column:0]")
    try:
        return json.loads(request.body.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", 1)
        column = getattr(exc, "colno", 0)
        raise RequestError(
            "JSON_PARSER_ERROR", f"Unexpected character: {exc.args[0]} at [line:{line}, column:{column}]"
        ) from None


def _batch_size(header: str) -> int:
    match = re.search(r"batchSize\s*=\s*(\d+)", header or "", re.IGNORECASE)
    if not match:
        return DEFAULT_BATCH
    return max(MIN_BATCH, min(MAX_BATCH, int(match.group(1))))


def _uri_length(request: Request) -> int:
    query = urlencode(request.query, doseq=True)
    return len(request.path.encode("utf-8")) + (len(query) + 1 if query else 0)


def _versions() -> list[dict[str, str]]:
    return [
        {"label": f"API {major}.0", "url": f"/services/data/v{major}.0", "version": f"{major}.0"}
        for major in range(50, 63)
    ]


def _resources(version: str) -> dict[str, str]:
    base = f"/services/data/v{version}"
    return {name: f"{base}/{name}" for name in ("sobjects", "query", "queryAll", "composite", "limits")}
