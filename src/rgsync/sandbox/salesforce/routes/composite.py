"""Composite: up to 25 subrequests (at most 5 of them queries or sObject Collections) run in
order through the emulator's own router, with @{reference.path} substitution from earlier
results and allOrNone rolling the whole request back.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from rgsync.sandbox.http import Request, Response

from ..errors import RequestError, SalesforceError
from .common import _VERSION_PATH, _error, _json_body, _not_found, _Route
from .sobject_collections import CollectionRoutes

COMPOSITE_LIMIT = 25
COMPOSITE_HEAVY_LIMIT = 5
_REFERENCE = re.compile(r"@\{([A-Za-z0-9][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_REFERENCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")


class CompositeRoutes(CollectionRoutes):
    """composite/ (subrequests that write collections run with the request's allOrNone)."""

    subrequests: Counter[str]

    if TYPE_CHECKING:
        # The router lives on SalesforceEmulator; subrequests go through it like top-level calls.
        def _route(self, request: Request, version: str, rest: str) -> _Route | None: ...

    def fault_line(self, request: Request, route: str) -> str:
        """What injected faults match against: 'METHOD /path', and for a Composite request the
        sObject types its subrequests write ('… composite writes EmailMessage,EmailMessageRelation'),
        so a fault can aim at the request that saves emails rather than at those that only read."""
        line = f"{request.method} {request.path}"
        if route != "composite":
            return line
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return line
        types: list[str] = []
        for sub in body.get("compositeRequest") or [] if isinstance(body, dict) else []:
            records = (
                sub.get("body", {}).get("records")
                if isinstance(sub, dict) and isinstance(sub.get("body"), dict)
                else None
            )
            for record in records if isinstance(records, list) else []:
                kind = (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
                if kind and kind not in types:
                    types.append(str(kind))
        return f"{line} writes {','.join(types)}" if types else line

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
