"""The Salesforce REST API over the emulated org, served by `rgsync.sandbox.http.EmulatorServer`.

Paths live under `/services/data/vXX.X/` (any version from 50.0 up) plus the OAuth endpoints
(see `oauth.py`). Every REST call needs `Authorization: Bearer <token>` (401 INVALID_SESSION_ID
otherwise), is charged to the daily allocation (403 REQUEST_LIMIT_EXCEEDED when spent) and is
answered with `Sforce-Limit-Info: api-usage=N/M`. Errors use Salesforce's shape
`[{"message", "errorCode", "fields"}]`.

Where the public documents give a limit but not the exact refusal (more than 10 type chunks in a
collection, more than 25 or 5 Composite subrequests), the emulator answers 400 with
INVALID_BATCH_REQUEST / LIMIT_EXCEEDED and a message naming the limit.

The emulator routes each call to a route group of the `routes` package (describe, sObjects,
query, sObject Collections, Composite), which it mixes in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlencode

from rgsync.sandbox.http import Fault, FaultPlan, Request, Response

from .errors import RequestError, SalesforceError
from .oauth import OAuthService, Session
from .routes.common import _VERSION_PATH, _error, _not_found, _Route, _RouteMaker
from .routes.composite import CompositeRoutes
from .routes.describe import DescribeRoutes
from .routes.query import QueryRoutes, _Cursor
from .routes.sobject_collections import CollectionRoutes
from .routes.sobjects import SObjectRoutes
from .store import Org

if TYPE_CHECKING:
    from rgsync.sandbox.http import EmulatorServer

MIN_VERSION = 50.0
MAX_URI_BYTES = 16384


class SalesforceEmulator(DescribeRoutes, SObjectRoutes, QueryRoutes, CompositeRoutes, CollectionRoutes):
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


def _method_not_allowed(method: str, allowed: tuple[str, ...]) -> Response:
    return _error(
        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}"
    )


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
