"""What every route group shares: `RouteGroup` (the org, record JSON and the `fields` parameter),
Salesforce-shaped error responses, reading JSON bodies, and the versioned path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rgsync.sandbox.http import Request, Response

from ..errors import RequestError
from ..values import to_json

if TYPE_CHECKING:
    from ..schema import SObjectType
    from ..store import Org

COLLECTION_LIMIT = 200
_VERSION_PATH = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")


def _error(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    return Response(status, [{"message": message, "errorCode": code, "fields": fields or []}])


def _not_found() -> Response:
    return _error(404, "NOT_FOUND", "The requested resource does not exist")


@dataclass
class _Route:
    name: str
    run: Callable[[], Response]
    heavy: bool = False  # counts towards Composite's 5 query/collections subrequests


_RouteMaker = Callable[..., _Route]


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


class RouteGroup:
    """The base of every route group: the org they serve and the record helpers they share."""

    org: Org

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
