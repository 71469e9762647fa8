"""One HTTPS front for the Graph emulator: the sign-in authority, Graph v1.0 routing, the bearer
token check, `Prefer` handling, Graph's error body, and `$batch`.

`$batch` (https://learn.microsoft.com/graph/json-batching) takes at most 20 requests, runs them in
order (a request whose `dependsOn` failed gets 424), and answers 200 with one response per request,
each with its own status: a request inside a successful batch can be throttled (429 with
Retry-After) on its own. Inner requests are counted under `batch:<route name>` in the server's
counters and can be failed through `GraphState.batch_faults`.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from rgsync.sandbox.graph.call import Call
from rgsync.sandbox.graph.common import GraphError, error_response, parse_prefer
from rgsync.sandbox.graph.routes import GraphApi, batch_body
from rgsync.sandbox.graph.state import GraphState
from rgsync.sandbox.http import EmulatorServer, Request, Response

MAX_BATCH = 20
_KEY_SEGMENT = re.compile(r"(\w+)\('([^']*)'\)")


class GraphEmulator:
    """The emulator `EmulatorServer` serves (see the module docstring)."""

    def __init__(self, state: GraphState) -> None:
        self.state = state
        self.api = GraphApi(state)
        # The tenant's other mailboxes, reached by app-only tokens at /users/{address or id}/.
        self.others: dict[str, GraphApi] = {}
        self.server: EmulatorServer | None = None

    # -- routing ---------------------------------------------------------------------------------
    def route_name(self, request: Request) -> str:
        """'graph.<resource>.<verb>' for Graph calls, 'graph.batch', 'oauth.*' for sign-in."""
        if not request.path.startswith("/v1.0/"):
            return self.state.identity.route_name(request)
        if request.path == "/v1.0/$batch":
            return "graph.batch"
        try:
            relative, _ = self._mailbox_path(request.path)
        except GraphError:
            return "graph.unknown"
        found = self.api.match(request.method, relative)
        return found[0] if found else "graph.unknown"

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request."""
        base = self._base(request)
        with self.state.lock:
            if not request.path.startswith("/v1.0/"):
                return self.state.identity.handle(request, base)
            try:
                if request.path == "/v1.0/$batch":
                    if request.method != "POST":
                        raise GraphError(
                            405,
                            "Request_BadRequest",
                            "Specified HTTP method is not allowed for the request target.",
                        )
                    token_kind = self.state.identity.check(request.header("authorization")).kind
                    response = self._batch(request, base, token_kind == "app")
                else:
                    response = self._graph(request, base)
            except GraphError as exc:
                return error_response(
                    exc.status, exc.code, exc.message, headers=exc.headers, now=self.state.clock()
                )
            return self._maybe_lost(f"{request.method} {request.path}", response)

    def _maybe_lost(self, line: str, response: Response) -> Response:
        """The answer, unless a `lose_answer` fault swallows it after the work was done."""
        fault = self.state.lost_answers.take(line)
        if fault is not None and fault.response is not None:
            return Response(
                fault.response.status,
                fault.response.body,
                dict(fault.response.headers),
                fault.response.content_type,
            )
        return response

    def _base(self, request: Request) -> str:
        host = request.header("host") or (f"127.0.0.1:{self.server.port}" if self.server else "127.0.0.1")
        # Behind the team sandbox's router a mailbox lives under a path prefix its links must keep.
        return f"https://{host}{request.header('x-forwarded-prefix').rstrip('/')}"

    def _mailbox_path(self, path: str) -> tuple[str, str | None]:
        """The mailbox-relative path and the user named by `/users/{id}` (None for `/me`)."""
        return _mailbox_path(path)

    def _graph(self, request: Request, base: str) -> Response:
        token = self.state.identity.check(request.header("authorization"))
        relative, user = self._mailbox_path(request.path)
        if user is None and token.kind == "app":
            raise GraphError(
                400, "BadRequest", "/me request is only valid with delegated authentication flow."
            )
        api = self._api_of(user, token.kind)
        found = api.match(request.method, relative)
        # The access policy covers mail, calendars, contacts and mailbox settings; To Do's
        # application permission is tenant-wide and is not limited by it.
        if token.kind == "app" and user is not None and not (found and found[0].startswith(_TENANT_WIDE)):
            self._check_app_access(user)
        if (
            api is self.api
            and user is not None
            and user.lower()
            not in (
                self.state.address.lower(),
                self.state.identity.user_id,
            )
        ):
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        if found is not None and token.kind == "app":
            _check_role(token.roles, request.method, found[0])
        if found is None:
            if api.known_path(relative):
                raise GraphError(
                    405,
                    "ErrorInvalidRequest",
                    "The OData request is not supported: the method is not allowed on this resource.",
                )
            raise GraphError(
                400,
                "BadRequest",
                f"Resource not found for the segment '{relative.strip('/').split('/')[-1] or 'me'}'.",
            )
        _name, handler, groups = found
        prefs = parse_prefer(", ".join(_prefer_values(request)))
        if not prefs.immutable_ids:
            self.state.requests_without_immutable_ids.append((request.method, request.path))
        if (
            request.method in ("POST", "PATCH")
            and request.body
            and "json" not in request.header("content-type").lower()
        ):
            raise GraphError(
                415, "UnsupportedMediaType", "The request's Content-Type must be application/json."
            )
        call = Call(request, relative, request.path, base, prefs, token.kind == "app", groups)
        response = handler(call)
        applied = []
        if prefs.immutable_ids:
            applied.append('IdType="ImmutableId"')
        if prefs.max_page_size and isinstance(response.body, dict) and "value" in response.body:
            applied.append(f"odata.maxpagesize={prefs.max_page_size}")
        if applied:
            response.headers["Preference-Applied"] = ", ".join(applied)
        return response

    def add_mailbox(self, state: GraphState) -> None:
        """Another user of the tenant: their mailbox, reachable with app-only tokens at
        `/users/{address}` or `/users/{object id}` (the tenant's sign-in stays this emulator's)."""
        address = state.address.lower()
        self.others[address] = GraphApi(state)
        self.state.identity.other_users[address] = state.identity.user_id

    def _api_of(self, user: str | None, kind: str) -> GraphApi:
        """Whose mailbox a call reaches: another user's only with an app-only token."""
        if user is None or kind != "app" or not self.others:
            return self.api
        wanted = user.lower()
        for address, object_id in self.state.identity.other_users.items():
            if wanted in (address, object_id.lower()) and address in self.others:
                return self.others[address]
        return self.api

    def _check_app_access(self, user: str) -> None:
        """An app-only call reaches only mailboxes its application access policy allows
        (https://learn.microsoft.com/graph/auth-limit-mailbox-access): another mailbox of the tenant
        gets Graph's 403 ErrorAccessDenied, whatever the app's permissions."""
        identity = self.state.identity
        policy = identity.app_access_policy
        if policy is None:
            return
        wanted = user.lower()
        if wanted == identity.user_id:
            wanted = self.state.address.lower()
        for address, object_id in identity.other_users.items():
            if wanted == object_id.lower():
                wanted = address.lower()
        if wanted not in {p.lower() for p in policy}:
            raise GraphError(
                403,
                "ErrorAccessDenied",
                "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
            )

    # -- $batch ----------------------------------------------------------------------------------
    def _batch(self, request: Request, base: str, app_only: bool) -> Response:
        try:
            payload = request.json()
        except (ValueError, UnicodeDecodeError):
            raise GraphError(400, "BadRequest", "Invalid batch payload format.") from None
        requests = payload.get("requests") if isinstance(payload, dict) else None
        if not isinstance(requests, list) or not requests:
            raise GraphError(
                400, "BadRequest", "Invalid batch payload format: 'requests' is missing or empty."
            )
        if len(requests) > MAX_BATCH:
            raise GraphError(
                400, "BadRequest", f"Number of batch requests exceeds the maximum of {MAX_BATCH}."
            )
        seen: set[str] = set()
        for entry in requests:
            if (
                not isinstance(entry, dict)
                or not entry.get("id")
                or not entry.get("method")
                or not entry.get("url")
            ):
                raise GraphError(
                    400, "BadRequest", "Each batch request needs an 'id', a 'method' and a 'url'."
                )
            key = str(entry["id"]).lower()
            if key in seen:
                raise GraphError(400, "BadRequest", "Batch request ids must be unique.")
            for dependency in entry.get("dependsOn") or []:
                if str(dependency).lower() not in seen:
                    raise GraphError(
                        400,
                        "BadRequest",
                        f"Request '{entry['id']}' depends on '{dependency}', which is not an earlier request of the batch.",
                    )
            seen.add(key)
            if "body" in entry and not any(k.lower() == "content-type" for k in (entry.get("headers") or {})):
                raise GraphError(
                    400, "BadRequest", f"Request '{entry['id']}' has a body but no Content-Type header."
                )
        statuses: dict[str, int] = {}
        responses: list[dict[str, Any]] = []
        for entry in requests:
            inner_id = str(entry["id"])
            failed = [d for d in entry.get("dependsOn") or [] if statuses.get(str(d).lower(), 200) >= 400]
            if failed:
                response = error_response(
                    424,
                    "FailedDependency",
                    "The request depends on a request that failed.",
                    now=self.state.clock(),
                )
            else:
                response = self._inner(entry, request, base)
            statuses[inner_id.lower()] = response.status
            item: dict[str, Any] = {
                "id": inner_id,
                "status": response.status,
                "headers": {"Content-Type": response.content_type, **response.headers},
            }
            body = batch_body(response)
            if body is not None:
                item["body"] = body
            responses.append(item)
        return Response(200, {"responses": responses})

    def _inner(self, entry: dict[str, Any], outer: Request, base: str) -> Response:
        url = str(entry["url"])
        if not url.startswith("/"):
            url = "/" + url
        parts = urlsplit(url)
        if parts.path.startswith("/v1.0/") or parts.path == "/$batch":
            return error_response(
                400,
                "BadRequest",
                "A batch request url is relative to the version, e.g. '/me/events'.",
                now=self.state.clock(),
            )
        headers = {k.lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
        headers["authorization"] = outer.header("authorization")
        headers["host"] = outer.header("host")
        if "prefer" not in headers and outer.header("prefer"):
            headers["prefer"] = outer.header("prefer")
        body = entry.get("body")
        raw = (
            b""
            if body is None
            else (json.dumps(body).encode("utf-8") if not isinstance(body, str) else body.encode("utf-8"))
        )
        inner = Request(
            method=str(entry["method"]).upper(),
            path="/v1.0" + parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=headers,
            body=raw,
        )
        name = self.route_name(inner)
        if self.server is not None:
            with self.server._lock:
                self.server.calls[f"batch:{name}"] += 1
                self.server.log.append((inner.method, inner.path + " (batch)"))
        fault = self.state.batch_faults.take(f"{inner.method} {parts.path}")
        if fault is not None and fault.response is not None:
            return Response(
                fault.response.status,
                fault.response.body,
                dict(fault.response.headers),
                fault.response.content_type,
            )
        try:
            response = self._graph(inner, base)
        except GraphError as exc:
            return error_response(
                exc.status, exc.code, exc.message, headers=exc.headers, now=self.state.clock()
            )
        return self._maybe_lost(f"{inner.method} {parts.path}", response)


@functools.lru_cache(maxsize=1024)
def _mailbox_path(path: str) -> tuple[str, str | None]:
    # A call's path is worked out twice (its route name for the counters, then its answer):
    # the second time it is remembered. Refusals are raised again each time.
    rest = _KEY_SEGMENT.sub(lambda m: f"{m.group(1)}/{m.group(2)}", unquote(path[len("/v1.0") :]))
    if rest == "/me" or rest.startswith("/me/"):
        return rest[3:], None
    if rest.startswith("/users/"):
        user, _, tail = rest[len("/users/") :].partition("/")
        return ("/" + tail if tail else ""), user
    raise GraphError(
        400, "BadRequest", f"Resource not found for the segment '{rest.strip('/').split('/')[0]}'."
    )


def _prefer_values(request: Request) -> list[str]:
    # Several Prefer headers may be sent; http.server keeps only the last in a dict, so requests
    # that need more than one preference send them comma-separated in one header.
    value = request.header("prefer")
    return [value] if value else []


_TENANT_WIDE = ("graph.todoLists", "graph.task")

# Which application permissions reach which resources: a read needs the .Read permission or the
# .ReadWrite one, a write the .ReadWrite one. To Do with application permissions uses the tenant-wide
# Tasks.Read.All / Tasks.ReadWrite.All; reading the user object needs User.Read.All.
_APP_PERMISSIONS = (
    (("graph.message", "graph.mailFolders", "graph.mailboxSettings"), "Mail.Read", "Mail.ReadWrite"),
    (("graph.calendar", "graph.event"), "Calendars.Read", "Calendars.ReadWrite"),
    (("graph.contact",), "Contacts.Read", "Contacts.ReadWrite"),
    (("graph.todoLists", "graph.task"), "Tasks.Read.All", "Tasks.ReadWrite.All"),
    (("graph.me",), "User.Read.All", "User.ReadWrite.All"),
)


def _check_role(roles: tuple[str, ...], method: str, route: str) -> None:
    """Graph's 403 ErrorAccessDenied when the app-only token's roles do not cover the route."""
    for prefixes, read, write in _APP_PERMISSIONS:
        if not route.startswith(prefixes):
            continue
        if route.startswith("graph.mailboxSettings"):
            read, write = "MailboxSettings.Read", "MailboxSettings.ReadWrite"
        allowed = {write} if method in ("POST", "PATCH", "PUT", "DELETE") else {read, write}
        if route.startswith("graph.me"):
            allowed |= (
                {"User.Read.All", "User.ReadBasic.All", "Directory.Read.All"} if method == "GET" else set()
            )
        if not allowed & set(roles):
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return
