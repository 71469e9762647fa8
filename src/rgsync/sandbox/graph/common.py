"""What the Graph emulator's parts share: Graph's error body, ids, timestamps, `$select`, the few
`$filter` forms the adapter uses, and `Prefer` header parsing.

Graph answers every refusal with one JSON shape (https://learn.microsoft.com/graph/errors):

    {"error": {"code": "ErrorItemNotFound", "message": "...",
               "innerError": {"date": "...", "request-id": "...", "client-request-id": "..."}}}
"""

from __future__ import annotations

import functools
import re
import secrets
import string
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from rgsync.sandbox.copying import deep_copy as copy_records
from rgsync.sandbox.http import Response
from rgsync.sandbox.zones import zone_named

Json = dict[str, Any]
T = TypeVar("T")

_ID_ALPHABET = string.ascii_letters + string.digits


class GraphError(Exception):
    """A refusal in Graph's words: HTTP status, error `code`, `message`, extra response headers."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_body(code: str, message: str, now: datetime | None = None, client_request_id: str = "") -> Json:
    """Graph's error JSON with its `innerError` block."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": moment.strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": client_request_id or str(uuid.uuid4()),
            },
        }
    }


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Response:
    """A complete error `Response` (used by handlers and by fault injection)."""
    return Response(status, error_body(code, message, now), headers=dict(headers or {}))


def throttled_response(retry_after: int = 1, *, now: datetime | None = None) -> Response:
    """Graph's 429: `TooManyRequests` with a Retry-After header (seconds)."""
    return error_response(
        429,
        "TooManyRequests",
        "Too many requests. Application is over its MailboxConcurrency limit.",
        headers={"Retry-After": str(retry_after)},
        now=now,
    )


def new_id(prefix: str = "AAMkA", length: int = 64) -> str:
    """An opaque, case-sensitive id in Outlook's style (letters and digits only, so an id never
    contains the separators the emulator uses for occurrence ids)."""
    return prefix + _random_text(length)


def change_key() -> str:
    """A fresh change key (Outlook's version stamp of an item)."""
    return _random_text(24)


# Each possible random byte b stands for the character _ID_ALPHABET[b % 62].
_BYTE_TO_ID_CHAR = bytes(ord(_ID_ALPHABET[b % len(_ID_ALPHABET)]) for b in range(256))


def _random_text(length: int) -> str:
    # One read of random bytes, mapped in one `translate`, instead of one secrets.choice per
    # character: every delivered message and every PATCH mints ids and change keys. The slight
    # bias of `% 62` does not matter for opaque ids.
    return secrets.token_bytes(length).translate(_BYTE_TO_ID_CHAR).decode("ascii")


def iso_utc(moment: datetime) -> str:
    """Graph's DateTimeOffset form: '2026-11-28T11:00:00Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_offset_datetime(value: str) -> datetime:
    """Parse a DateTimeOffset ('...Z' or with an offset, up to 7 fraction digits) into UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = _trim_fraction(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _trim_fraction(text: str) -> str:
    # Graph writes 7 fraction digits ('.0000000'); Python reads at most 6.
    return re.sub(r"(\.\d{6})\d+", r"\1", text)


def zone(name: str) -> ZoneInfo:
    """The zone for an IANA or Windows time zone name (CLDR, via `zone_named`); GraphError 400 when unknown."""
    found = zone_named(name)
    if found is None:
        raise GraphError(
            400,
            "TimeZoneNotSupportedException",
            f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.",
        )
    return found


def parse_date_time_zone(value: object, what: str) -> tuple[datetime, str]:
    """A Graph dateTimeTimeZone {"dateTime": "2026-11-28T11:00:00.0000000", "timeZone": "UTC"} as an
    aware UTC datetime plus the zone name it was given in."""
    if not isinstance(value, Mapping) or not isinstance(value.get("dateTime"), str):
        raise GraphError(
            400, "ErrorInvalidRequest", f"The property '{what}' must be a dateTimeTimeZone object."
        )
    zone_name = str(value.get("timeZone") or "UTC")
    text = _trim_fraction(str(value["dateTime"]).strip())
    if text.endswith("Z"):
        text = text[:-1]
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise GraphError(
            400,
            "ErrorInvalidRequest",
            f"Cannot convert the literal '{value['dateTime']}' to the expected type 'Edm.DateTime'.",
        ) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone(zone_name))
    return local.astimezone(UTC), zone_name


def date_time_zone(moment: datetime, zone_name: str = "UTC") -> Json:
    """Render an aware datetime as Graph's dateTimeTimeZone in `zone_name` (7 fraction digits)."""
    local = moment.astimezone(zone(zone_name)).replace(tzinfo=None)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000", "timeZone": zone_name}


# --------------------------------------------------------------------------------------------
# Prefer header


@dataclass(frozen=True)
class Preferences:
    """What a request's `Prefer` header(s) asked for."""

    immutable_ids: bool = False
    max_page_size: int | None = None
    time_zone: str = "UTC"
    body_text: bool = False
    raw: tuple[str, ...] = ()


@functools.lru_cache(maxsize=64)
def parse_prefer(header: str) -> Preferences:
    """Parse `Prefer: IdType="ImmutableId", odata.maxpagesize=50, outlook.timezone="UTC"`.

    Remembered per header text: a client sends the same one with every call (the answer is frozen).
    """
    immutable = False
    size: int | None = None
    time_zone = "UTC"
    body_text = False
    parts = tuple(p.strip() for p in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", header) if p.strip())
    for part in parts:
        name, _, value = part.partition("=")
        name = name.strip().lower()
        value = value.strip().strip('"')
        if name == "idtype" and value.lower() == "immutableid":
            immutable = True
        elif name == "odata.maxpagesize" and value.isdigit():
            size = max(1, int(value))
        elif name == "outlook.timezone" and value:
            time_zone = value
        elif name == "outlook.body-content-type" and value.lower() == "text":
            body_text = True
    return Preferences(immutable, size, time_zone, body_text, parts)


# --------------------------------------------------------------------------------------------
# $select and $expand


def select(item: Json, fields: Iterable[str] | None, always: Iterable[str] = ("id",)) -> Json:
    """Keep only the `$select`ed properties (plus `id` and OData annotations) of a resource."""
    if fields is None:
        return item
    keep = _kept(tuple(fields), tuple(always))
    return {k: v for k, v in item.items() if k in keep or k.startswith("@")}


@functools.lru_cache(maxsize=256)
def _kept(fields: tuple[str, ...], always: tuple[str, ...]) -> frozenset[str]:
    # A client asks with the same $select on every page and every item of a batch.
    return frozenset({f.strip() for f in fields if f.strip()} | set(always))


def select_param(query: Mapping[str, list[str]]) -> list[str] | None:
    """The `$select` list of a request, None when absent."""
    values = query.get("$select")
    if not values:
        return None
    return [f for v in values for f in v.split(",") if f.strip()]


_EXPAND_PROPERTY = re.compile(r"^\s*(\w+)\s*(?:\(\s*\$filter\s*=\s*(.*?)\s*\))?\s*$", re.S)


def expand_param(query: Mapping[str, list[str]]) -> dict[str, str | None]:
    """`$expand=singleValueExtendedProperties($filter=id eq '…'),linkedResources` as
    {navigation property: its inner $filter or None}."""
    out: dict[str, str | None] = {}
    for value in query.get("$expand", []):
        for part in _split_top_level(value):
            match = _EXPAND_PROPERTY.match(part)
            if not match:
                raise GraphError(
                    400, "BadRequest", f"Parsing OData Select and Expand failed: '{part}' is not understood."
                )
            out[match.group(1)] = match.group(2)
    return out


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


# --------------------------------------------------------------------------------------------
# $filter: only the forms Graph documents for the resources the adapter reads


@dataclass(frozen=True)
class ExtendedPropertyFilter:
    """`singleValueExtendedProperties/any(ep: ep/id eq 'ID' and ep/value eq 'VALUE')`."""

    property_id: str
    value: str | None


@dataclass(frozen=True)
class ReceivedFilter:
    """`receivedDateTime ge 2026-11-22T11:00:00Z` (or gt): the one filter message delta allows."""

    since: datetime
    inclusive: bool


@dataclass(frozen=True)
class EqualsFilter:
    """`displayName eq 'Salesforce Contacts'`."""

    name: str
    value: str


Filter = ExtendedPropertyFilter | ReceivedFilter | EqualsFilter

_EXT_FILTER = re.compile(
    r"^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'((?:[^']|'')*)'"
    r"(?:\s+and\s+\1/value\s+eq\s+'((?:[^']|'')*)')?\s*\)$",
    re.I,
)
_RECEIVED_FILTER = re.compile(r"^receivedDateTime\s+(ge|gt)\s+(\S+)$", re.I)
_EQUALS_FILTER = re.compile(r"^(\w+)\s+eq\s+'((?:[^']|'')*)'$")
_ID_FILTER = re.compile(r"^id\s+eq\s+'((?:[^']|'')*)'$", re.I)


def parse_filter(text: str) -> Filter:
    """Parse one of the supported `$filter` expressions; anything else is Graph's 400."""
    expression = text.strip()
    match = _EXT_FILTER.match(expression)
    if match:
        value = match.group(3)
        return ExtendedPropertyFilter(
            match.group(2).replace("''", "'"), None if value is None else value.replace("''", "'")
        )
    match = _RECEIVED_FILTER.match(expression)
    if match:
        try:
            since = parse_offset_datetime(match.group(2))
        except ValueError:
            raise GraphError(
                400, "BadRequest", f"Invalid filter clause: '{match.group(2)}' is not a DateTimeOffset."
            ) from None
        return ReceivedFilter(since, match.group(1).lower() == "ge")
    match = _EQUALS_FILTER.match(expression)
    if match:
        return EqualsFilter(match.group(1), match.group(2).replace("''", "'"))
    raise GraphError(400, "BadRequest", f"Invalid filter clause: the query '{expression}' is not supported.")


def expand_filter_id(inner: str | None) -> str | None:
    """The property id named by an `$expand=singleValueExtendedProperties($filter=id eq '…')`."""
    if inner is None:
        return None
    match = _ID_FILTER.match(inner.strip())
    if not match:
        raise GraphError(400, "BadRequest", f"Invalid filter clause in $expand: '{inner}'.")
    return match.group(1).replace("''", "'")


def extended_properties(values: Mapping[str, str], wanted: str | None) -> list[Json]:
    """The `singleValueExtendedProperties` array of an item, optionally only the one property."""
    return [{"id": k, "value": v} for k, v in values.items() if wanted is None or k.lower() == wanted.lower()]


def read_extended_properties(body: Mapping[str, Any]) -> dict[str, str]:
    """Extended properties given in a POST/PATCH body; Graph refuses malformed property ids."""
    out: dict[str, str] = {}
    for entry in body.get("singleValueExtendedProperties") or []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            raise GraphError(
                400, "ErrorInvalidExtendedProperty", "An extended property needs an 'id' and a 'value'."
            )
        prop_id = entry["id"]
        if not re.match(
            r"^(String|Integer|Boolean|SystemTime|Binary)\s+(\{[0-9A-Fa-f-]{36}\}\s+(Name|Id)\s+\S+|0x[0-9A-Fa-f]{4})$",
            prop_id,
        ):
            raise GraphError(
                400,
                "ErrorInvalidExtendedPropertyValue",
                f"The extended property id '{prop_id}' is not valid.",
            )
        out[prop_id] = str(entry.get("value", ""))
    return out


# --------------------------------------------------------------------------------------------
# Small things


def deep_copy(value: T) -> T:
    """A deep copy (stores hand out copies so a caller never edits the stored item)."""
    return copy_records(value)
