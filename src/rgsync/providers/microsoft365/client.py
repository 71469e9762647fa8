"""Plain HTTP to Microsoft Graph: one session, the headers every call carries, the mapping of
Graph's failures onto rgsync's error kinds (one function, `graph_failure`), and `$batch`.

Every request sends `Prefer: IdType="ImmutableId"` so the ids rgsync stores survive moves between
folders (https://learn.microsoft.com/graph/outlook-immutable-id), together with
`outlook.timezone="UTC"` (calendar times come back in UTC) in the same header.

`$batch` carries at most 20 requests (https://learn.microsoft.com/graph/json-batching). Graph
answers 200 for the batch and a status per request; nothing is retried here (the session's one
retry policy does that, honouring Retry-After).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import requests

from rgsync.providers.base import AuthError, ItemError, ProviderError, RetriableError
from rgsync.providers.retry_hint import header_retry_after

log = logging.getLogger("rgsync.microsoft365")

MAX_BATCH = 20
DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
PREFER = 'IdType="ImmutableId", outlook.timezone="UTC"'
RECONNECT = "run `rgsync connect microsoft365`"
TIMEOUT = (10.0, 60.0)
_EXPIRED_CODES = {"syncstatenotfound", "resyncrequired", "syncstateinvalid"}


class DeltaExpired(ProviderError):
    """A delta or skip token Graph no longer knows (410 Gone / syncStateNotFound): list everything again."""


class TokenSource(Protocol):
    """Gives access tokens for Graph; `fresh=True` asks for a new one (after a 401)."""

    def token(self, *, fresh: bool = False) -> str:
        """An access token for Graph."""
        ...


def graph_failure(status: int, headers: Mapping[str, str], body: Any, *, what: str) -> ProviderError:
    """The rgsync error for a failed Graph answer (a whole call or one request of a batch).

    429, 5xx → RetriableError (with Retry-After); 410 or syncStateNotFound → DeltaExpired;
    401 → AuthError MAIL-AUTH; 403 → ItemError MAIL-ACCESS-DENIED; 404 → ItemError MAIL-NOT-FOUND;
    other 4xx → ItemError MAIL-REFUSED, with Graph's own code and message.
    """
    code, message = _error_parts(body)
    text = f"Microsoft 365 refused {what}: {message or f'HTTP {status}'}" + (f" ({code})" if code else "")
    if status == 410 or code.lower() in _EXPIRED_CODES:
        return DeltaExpired(text, code="MAIL-CURSOR-EXPIRED")
    if status == 429 or status >= 500:
        kind = "throttled" if status == 429 else "unavailable"
        return RetriableError(
            f"Microsoft 365 is {kind} ({status}{', ' + code if code else ''}) for {what}",
            retry_after=retry_after(headers),
            code="MAIL-THROTTLED" if status == 429 else "MAIL-UNAVAILABLE",
        )
    if status == 401:
        return AuthError(
            f"Microsoft 365 did not accept the sign-in ({message or 'HTTP 401'})",
            code="MAIL-AUTH",
            advice=RECONNECT,
        )
    if status == 403:
        return ItemError(
            text, code="MAIL-ACCESS-DENIED", advice="check the app's Graph permissions for this mailbox"
        )
    if status == 404:
        return ItemError(text, code="MAIL-NOT-FOUND")
    return ItemError(text, code="MAIL-REFUSED")


def _error_parts(body: Any) -> tuple[str, str]:
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        error = body["error"]
        return str(error.get("code") or ""), str(error.get("message") or "")
    return "", ""


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date), None when absent."""
    return header_retry_after(headers)


@dataclass
class SubRequest:
    """One request of a `$batch`: method, URL relative to the version root, optional JSON body.

    `retry_on_5xx` says whether sending it again after a 5xx is safe (PATCH, DELETE, or an event
    POST whose transactionId makes it idempotent)."""

    method: str
    url: str
    body: Any = None
    retry_on_5xx: bool = True


@dataclass
class SubResponse:
    """A request's answer inside a batch (or the error that kept it from being answered)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300


class GraphClient:
    """Graph over one requests session; counts every HTTP call it makes in `api_calls`.

    `prefix` is the mailbox part of every path: '/me' for a signed-in user, '/users/{address}'
    for an app acting on a mailbox (client credentials).
    """

    def __init__(
        self,
        session: requests.Session,
        tokens: TokenSource,
        *,
        graph_url: str = DEFAULT_GRAPH_URL,
        prefix: str = "/me",
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.root = graph_url.rstrip("/")
        self.prefix = prefix
        self.api_calls = 0
        self.calls_by_kind: dict[str, int] = {}

    @staticmethod
    def user_prefix(address: str) -> str:
        """The path prefix for app-only access to one mailbox."""
        return "/users/" + quote(address, safe="@")

    def url(self, path: str) -> str:
        """An absolute URL for a path relative to the version root ('/me/…'), or a link as given."""
        return path if path.startswith("https://") or path.startswith("http://") else self.root + path

    def _headers(self, token: str, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}", "Prefer": PREFER, "Accept": "application/json"}
        if extra:
            for key, value in extra.items():
                if key.lower() == "prefer":
                    headers["Prefer"] = f"{PREFER}, {value}"
                else:
                    headers[key] = value
        return headers

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        what: str = "the request",
        kind: str = "",
    ) -> Any:
        """Send one request and return its JSON (None for an empty answer); failures raise per
        `graph_failure`. A 401 is answered once by asking for a fresh token and trying again."""
        fresh = False
        while True:
            token = self.tokens.token(fresh=fresh)
            self.api_calls += 1
            name = kind or method.lower()
            self.calls_by_kind[name] = self.calls_by_kind.get(name, 0) + 1
            try:
                response = self.session.request(
                    method,
                    self.url(path),
                    params=params,
                    data=None if body is None else json.dumps(body),
                    headers={
                        **self._headers(token, headers),
                        **({"Content-Type": "application/json"} if body is not None else {}),
                    },
                    timeout=TIMEOUT,
                )
            except requests.RequestException as exc:
                raise RetriableError(
                    f"Microsoft 365 did not answer {what}: {type(exc).__name__}", code="MAIL-UNAVAILABLE"
                ) from exc
            if response.status_code == 401 and not fresh:
                fresh = True
                continue
            payload = _json(response)
            if response.status_code >= 400:
                raise graph_failure(response.status_code, dict(response.headers), payload, what=what)
            return payload

    def batch(
        self, requests_: Sequence[SubRequest], *, what: str = "a batch of changes"
    ) -> list[SubResponse]:
        """Send up to 20 requests in one `$batch`; the answers come back in request order.

        Nothing is sent again here: a request throttled or failed inside the batch comes back with
        its status, and the caller decides what kind of failure that is. A failure of the batch
        call itself raises, as `call` does.
        """
        if len(requests_) > MAX_BATCH:
            raise ValueError(f"a Graph batch holds at most {MAX_BATCH} requests")
        return self._batch_once(requests_, what)

    def _batch_once(self, requests_: Sequence[SubRequest], what: str) -> list[SubResponse]:
        entries = []
        for n, sub in enumerate(requests_, start=1):
            entry: dict[str, Any] = {
                "id": str(n),
                "method": sub.method,
                "url": sub.url,
                "headers": {"Prefer": PREFER},
            }
            if sub.body is not None:
                entry["body"] = sub.body
                entry["headers"]["Content-Type"] = "application/json"
            entries.append(entry)
        payload = self.call("POST", "/$batch", body={"requests": entries}, what=what, kind="batch")
        by_id: dict[str, SubResponse] = {}
        for item in (payload or {}).get("responses", []):
            by_id[str(item.get("id"))] = SubResponse(
                int(item.get("status") or 0),
                item.get("body"),
                {str(k): str(v) for k, v in (item.get("headers") or {}).items()},
            )
        return [by_id.get(str(n), SubResponse(0)) for n in range(1, len(requests_) + 1)]

    def pages(
        self,
        first: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        what: str,
        kind: str,
    ) -> Any:
        """Yield each page (JSON) of a collection, following `@odata.nextLink`."""
        link: str | None = first
        query = params
        while link:
            page = self.call("GET", link, params=query, headers=headers, what=what, kind=kind) or {}
            yield page
            link = page.get("@odata.nextLink")
            query = None


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
