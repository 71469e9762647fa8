"""What the four Google emulators share: routes, call parameters, Google's error body, page tokens,
timestamps, patch semantics and the `fields` partial-response selector.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from rgsync.sandbox.http import Request, Response

# The canonical `status` word Google puts next to each HTTP code (google.rpc.Code). 410 has no
# canonical code, and Calendar's 410 bodies carry none, so it is left out there.
_CANONICAL_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
}


class GoogleApiError(Exception):
    """A refusal in Google's words: HTTP status, `errors[0].reason`, message and, optionally, the
    canonical status word, the error domain, the offending parameter and `details` entries."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        status: str | None = None,
        domain: str = "global",
        location: str | None = None,
        location_type: str = "parameter",
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.status = status if status is not None else _CANONICAL_STATUS.get(code)
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Google's JSON error body: {"error": {"code", "message", "status"?, "errors": [...], "details"?}}."""
        item: dict[str, Any] = {"message": self.message, "domain": self.domain, "reason": self.reason}
        if self.location is not None:
            item["location"] = self.location
            item["locationType"] = self.location_type
        error: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [item]}
        if self.status:
            error["status"] = self.status
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> Response:
        """This error as an HTTP response."""
        return Response(self.code, self.body(), headers=dict(self.headers), content_type=JSON_TYPE)


JSON_TYPE = "application/json; charset=UTF-8"


def error_response(code: int, reason: str, message: str, **kwargs: Any) -> Response:
    """A ready-made Google error response (used by fault injection)."""
    return GoogleApiError(code, reason, message, **kwargs).response()


def bad_request(message: str, *, reason: str = "invalid", location: str | None = None) -> GoogleApiError:
    """A 400 with Google's usual `invalid` reason."""
    return GoogleApiError(400, reason, message, location=location)


def not_found(message: str = "Not Found") -> GoogleApiError:
    """A 404 `notFound`."""
    return GoogleApiError(404, "notFound", message)


# --- routes -------------------------------------------------------------------------------------


@dataclass
class Call:
    """One routed API call: the request plus the path parameters its route captured (unquoted)."""

    request: Request
    path_params: dict[str, str]

    @property
    def method(self) -> str:
        """The HTTP method."""
        return self.request.method

    def __getitem__(self, name: str) -> str:
        """A path parameter by name (already percent-decoded)."""
        return self.path_params[name]

    def param(self, name: str) -> str | None:
        """A query parameter, or None when absent."""
        return self.request.param(name)

    def params(self, name: str) -> list[str]:
        """A repeated query parameter, every value in order."""
        return list(self.request.query.get(name, []))

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter ('true'/'false', as the client sends them)."""
        value = self.request.param(name)
        if value is None or value == "":
            return default
        lowered = value.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise bad_request(f"Invalid value '{value}' for parameter {name}.", location=name)

    def integer(self, name: str, default: int, *, maximum: int | None = None, minimum: int = 0) -> int:
        """An integer query parameter. Values above `maximum` are lowered to it, as Google does for
        page sizes; values below `minimum` or not a number are refused."""
        value = self.request.param(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise bad_request(
                f"Invalid value '{value}'. Values must match the following regular expression: '-?\\d+'",
                location=name,
            ) from None
        if number < minimum:
            raise bad_request(f"Invalid value '{value}'. Values must be at least {minimum}.", location=name)
        if maximum is not None and number > maximum:
            number = maximum
        return number

    def body(self) -> dict[str, Any]:
        """The JSON body as an object ({} when empty); anything else is a 400 parse error."""
        if not self.request.body:
            return {}
        try:
            value = json.loads(self.request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise GoogleApiError(400, "parseError", "Parse Error") from None
        if not isinstance(value, dict):
            raise GoogleApiError(400, "parseError", "Parse Error")
        return value


Action = Callable[[Call], Any]


@dataclass(frozen=True)
class Route:
    """An API method: HTTP method, path pattern (named groups become path parameters), the name calls
    are counted under, and the action answering it (a JSON-able value for 200, or a Response)."""

    method: str
    pattern: re.Pattern[str]
    name: str
    action: Action

    def match(self, request: Request) -> Call | None:
        """The call this route makes of `request`, or None when method or path differ."""
        if request.method != self.method:
            return None
        found = self.pattern.match(request.path)
        if found is None:
            return None
        params = {key: unquote(value) for key, value in found.groupdict().items()}
        return Call(request, params)


def route(method: str, path: str, name: str, action: Action) -> Route:
    """Build a route from a path template where `{name}` matches one segment and `{name+}` several."""
    regex = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+?)", path)
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+?)", regex)
    return Route(method, re.compile(f"^{regex}$"), name, action)


def no_content() -> Response:
    """The empty 204 some delete/modify methods answer."""
    return Response(204, None)


# --- page tokens --------------------------------------------------------------------------------


def encode_token(prefix: str, payload: dict[str, Any]) -> str:
    """An opaque, URL-safe token carrying `payload` (page and sync tokens)."""
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return prefix + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(prefix: str, token: str, *, what: str) -> dict[str, Any]:
    """The payload of a token made by `encode_token`; a token that is not ours is a 400."""
    if not token.startswith(prefix):
        raise bad_request(f"Invalid {what}.", location=what)
    text = token[len(prefix) :]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_request(f"Invalid {what}.", location=what) from None
    if not isinstance(value, dict):
        raise bad_request(f"Invalid {what}.", location=what)
    return value


def page_offset(call: Call, prefix: str) -> tuple[int, dict[str, Any]]:
    """The offset (and the whole payload) of the call's pageToken, (0, {}) without one."""
    token = call.param("pageToken")
    if not token:
        return 0, {}
    payload = decode_token(prefix, token, what="pageToken")
    offset = payload.get("o")
    if not isinstance(offset, int) or offset < 0:
        raise bad_request("Invalid pageToken.", location="pageToken")
    return offset, payload


# --- time ---------------------------------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    """UTC with milliseconds and a Z, the way Google stamps `updated`: 2026-11-28T11:00:00.000Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_rfc3339(value: str, *, what: str) -> datetime:
    """An RFC 3339 timestamp with an offset (or Z) as an aware datetime; anything else is a 400."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise bad_request(f"Invalid value for: {what}", location=what) from None
    if moment.tzinfo is None:
        raise bad_request(f"Invalid value for: {what}", location=what)
    return moment


def parse_date(value: str, *, what: str) -> date:
    """A yyyy-mm-dd date; anything else is a 400."""
    try:
        return date.fromisoformat(value)
    except (ValueError, TypeError):
        raise bad_request(f"Invalid value for: {what}", location=what) from None


# --- JSON helpers -------------------------------------------------------------------------------


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Google's patch semantics: objects merge key by key, arrays and scalars replace, null clears."""
    result = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def b64url(data: bytes) -> str:
    """URL-safe base64 with padding, as Gmail encodes `raw` and `body.data`."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def from_b64url(text: str, *, what: str) -> bytes:
    """Decode URL-safe (or standard) base64 with or without padding; garbage is a 400."""
    cleaned = text.strip().replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise bad_request(f"Invalid value for ByteString: {what}", location=what) from None


# --- partial responses (`fields=`) ----------------------------------------------------------------

FieldTree = dict[str, "FieldTree | None"]


def parse_fields(text: str) -> FieldTree:
    """Parse a `fields` selector such as 'nextPageToken,messages(id,threadId),items/start'."""
    position = 0

    def parse_list(end: str | None) -> FieldTree:
        nonlocal position
        tree: FieldTree = {}
        while position < len(text):
            if end is not None and text[position] == end:
                position += 1
                return tree
            if text[position] in ", ":
                position += 1
                continue
            path_match = re.match(r"[\w*@.$-]+(?:/[\w*@.$-]+)*", text[position:])
            if path_match is None:
                raise bad_request(f"Invalid field selection {text}", location="fields")
            position += path_match.end()
            sub: FieldTree | None = None
            if position < len(text) and text[position] == "(":
                position += 1
                sub = parse_list(")")
            node = tree
            segments = path_match.group(0).split("/")
            for segment in segments[:-1]:
                child = node.get(segment)
                if child is None:
                    child = {}
                    node[segment] = child
                node = child
            last = segments[-1]
            existing = node.get(last, ...)
            if existing is ... or sub is None:
                node[last] = sub
            elif isinstance(existing, dict):
                existing.update(sub)
        if end is not None:
            raise bad_request(f"Invalid field selection {text}", location="fields")
        return tree

    return parse_list(None)


def apply_fields(value: Any, tree: FieldTree | None) -> Any:
    """Keep only the selected fields of `value` (lists are filtered element by element)."""
    if tree is None or "*" in tree:
        return value
    if isinstance(value, list):
        return [apply_fields(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: apply_fields(value[key], sub) for key, sub in tree.items() if key in value}


def reason_phrase(status: int) -> str:
    """The standard reason phrase for an HTTP status ('OK', 'Not Found', …)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
