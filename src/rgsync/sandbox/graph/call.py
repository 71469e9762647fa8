"""What every Graph route handler gets (`Call`) and the small helpers the handlers share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rgsync.sandbox.graph.common import ExtendedPropertyFilter, GraphError, Json, Preferences
from rgsync.sandbox.http import Request, Response


@dataclass
class Call:
    """One Graph request as the handlers see it."""

    request: Request
    path: str  # after the mailbox prefix, e.g. '/events/AAMk…'
    full_path: str  # the request path as sent, for next/delta links
    base: str  # 'https://127.0.0.1:PORT'
    prefs: Preferences
    app_only: bool
    groups: tuple[str, ...] = ()

    def json(self) -> Json:
        """The request body as a JSON object; Graph's 400 when it is not one."""
        try:
            body = self.request.json()
        except (ValueError, UnicodeDecodeError):
            raise GraphError(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            ) from None
        if not isinstance(body, dict):
            raise GraphError(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            )
        return body


def ok(body: Any, status: int = 200) -> Response:
    """A successful JSON answer."""
    return Response(status, body)


def with_expanded(
    fields: list[str] | None, expand: bool, name: str = "singleValueExtendedProperties"
) -> list[str] | None:
    """A $select list that keeps the expanded navigation property."""
    if fields is None:
        return None
    return [*fields, name] if expand else fields


def has_property(values: dict[str, str], wanted: ExtendedPropertyFilter) -> bool:
    """True when one of `values` (extended properties) matches the `$filter`."""
    for prop_id, value in values.items():
        if prop_id.lower() == wanted.property_id.lower() and (wanted.value is None or value == wanted.value):
            return True
    return False
