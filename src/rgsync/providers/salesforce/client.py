"""The HTTP side of the Salesforce adapter: one requests.Session, simple-salesforce on top of it,
and the ONE place where Salesforce's failures become rgsync's error kinds.

* One `requests.Session` for every call. `trust_env` is off so that REQUESTS_CA_BUNDLE cannot
  override `salesforce.ca-file` (requests lets the environment win over `session.verify`), and
  proxies are taken from the environment explicitly instead. A transport adapter gives every call
  a timeout (simple-salesforce sets none), counts HTTP calls and remembers the last Retry-After.
* The API version is pinned (`salesforce.api-version`).
* Errors (`translate`): 401 → renew the token once, then AuthError (SF-AUTH); 403
  REQUEST_LIMIT_EXCEEDED → ApiBudgetError (SF-API-BUDGET); 429/5xx/timeouts/connection errors →
  RetriableError with the server's Retry-After; other 4xx → FatalError with Salesforce's code.
  A transient failure of a create is an `UncertainWrite` (see `restful`). Nothing is retried here
  (the session's one retry policy does that); requests' own adapter retries are off.
* API usage is read from the Sforce-Limit-Info header of every response, in the transport
  adapter (with simple-salesforce's own parser), so error answers count too: a 403
  REQUEST_LIMIT_EXCEEDED also tells how much is used. `Salesforce.api_usage` would miss those,
  as simple-salesforce raises before reading the header.
"""

from __future__ import annotations

import email.utils
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from rgsync.model import ApiUsage
from rgsync.providers.base import (
    ApiBudgetError,
    FatalError,
    ItemError,
    ProviderError,
    RetriableError,
    UncertainWrite,
)
from rgsync.providers.salesforce.auth import AUTH_CODE, RECONNECT, SalesforceConfig, SignIn, auth_error
from rgsync.providers.salesforce.soql import MAX_ENCODED_QUERY, encoded_length

T = TypeVar("T")

DEFAULT_TIMEOUT = (10.0, 120.0)  # connect, read (seconds)
COMPOSITE_SUBREQUESTS = 25
COMPOSITE_HEAVY = 5  # queries and sObject Collections per Composite request
RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BUDGET_CODE = "SF-API-BUDGET"


class _CallingAdapter(HTTPAdapter):
    """Adds the default timeout to every request, counts calls and keeps the last Retry-After."""

    def __init__(
        self, timeout: float | tuple[float, float], on_response: Callable[[requests.Response], None]
    ) -> None:
        # No urllib3 retries (max_retries=0): a repeated POST could create twice; the session's
        # one retry policy repeats what is safe to repeat.
        super().__init__(max_retries=0)
        self._timeout = timeout
        self._on_response = on_response
        self.calls = 0
        self._lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        with self._lock:
            self.calls += 1
        response = super().send(request, **kwargs)
        self._on_response(response)
        return response


def make_http(
    config: SalesforceConfig,
    timeout: float | tuple[float, float],
    on_response: Callable[[requests.Response], None],
) -> tuple[requests.Session, _CallingAdapter]:
    """The session every Salesforce call goes through (see the module docstring)."""
    http = requests.Session()
    http.trust_env = False
    if config.ca_file:
        http.verify = config.ca_file
    for url in {config.instance_url, config.login_url} - {""}:
        # With trust_env off requests no longer reads *_PROXY; honour them (and NO_PROXY) here.
        http.proxies.update(requests.utils.get_environ_proxies(url))
    adapter = _CallingAdapter(timeout, on_response)
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return http, adapter


def _first_error(content: object) -> tuple[str, str]:
    """(errorCode, message) from Salesforce's error body `[{"errorCode", "message"}]`."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode") or first.get("statusCode") or ""), str(first.get("message") or "")
    if isinstance(content, dict):
        return str(content.get("errorCode") or content.get("error") or ""), str(
            content.get("message") or content.get("error_description") or ""
        )
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return "", str(content or "")[:300]


def error_for_status(status: int, content: object, retry_after: float | None = None) -> ProviderError:
    """The rgsync error for a Salesforce error answer (top-level or a Composite subrequest)."""
    code, message = _first_error(content)
    where = f"Salesforce answered HTTP {status}" + (f" {code}" if code else "")
    text = f"{where}: {message}" if message else where
    if status == 401:
        return auth_error(f"the Salesforce session is no longer valid ({code or 'HTTP 401'})")
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
        if "concurrent" in message.lower():
            # Too many long-running requests at once: a wait fixes it, the daily allocation is fine.
            return RetriableError(text, retry_after=retry_after, code="SF-BUSY")
        return ApiBudgetError(
            "Salesforce refused the call: the org's daily API allocation is used up (REQUEST_LIMIT_EXCEEDED)",
            code=BUDGET_CODE,
            advice="rgsync backs off and resumes later; ask your admin about the org's API allocation",
        )
    if status in RETRIABLE_STATUSES or code in ("SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"):
        return RetriableError(text, retry_after=retry_after, code=f"SF-HTTP-{status}")
    if code == "INVALID_QUERY_LOCATOR":
        # The next page of a query is gone (the locator expired, or the org keeps too many open).
        # Reads are repeatable: the session's policy runs the whole read again from its first page.
        return RetriableError(text, code="SF-QUERY-LOCATOR")
    if status == 403:
        return FatalError(
            text,
            code="SF-PERMISSION",
            advice="your Salesforce user lacks a permission rgsync needs (API Enabled, object access); run `rgsync doctor`",
        )
    if status == 300:
        return ItemError(text, code="SF-AMBIGUOUS")
    if status == 404:
        return FatalError(
            text, code="SF-NOT-FOUND", advice="run `rgsync doctor` to check the org and API version"
        )
    return FatalError(text, code=f"SF-{code}" if code else f"SF-HTTP-{status}", advice="run `rgsync doctor`")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True)
class SubResponse:
    """One Composite subrequest's answer."""

    reference: str
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        """True for a 2xx/3xx answer."""
        return self.status < 400

    def error(self) -> ProviderError:
        """The rgsync error for this subrequest's failure."""
        return error_for_status(self.status, self.body)


class SalesforceClient:
    """simple-salesforce over one session, with sign-in, error mapping, usage and call counting."""

    def __init__(
        self,
        config: SalesforceConfig,
        signin_factory: Callable[[requests.Session], SignIn],
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.clock = clock
        self._retry_after: float | None = None
        self._clock_offset: float | None = None
        self.http, self._adapter = make_http(config, timeout, self._seen)
        self.signin = signin_factory(self.http)
        self._sf: Salesforce | None = None
        self._usage: ApiUsage | None = None

    # -- accounting ---------------------------------------------------------------------------------
    def _seen(self, response: requests.Response) -> None:
        """Every answer: Retry-After, Sforce-Limit-Info (errors included) and the server's clock."""
        self._retry_after = _retry_after(response) if response.status_code >= 400 else None
        limit_info = response.headers.get("Sforce-Limit-Info")
        if limit_info:
            usage = Salesforce.parse_api_usage(limit_info).get("api-usage")
            if usage is not None:
                self._usage = ApiUsage(used=int(usage.used), limit=int(usage.total))
        stamp = response.headers.get("Date")
        if stamp:
            try:
                server = email.utils.parsedate_to_datetime(stamp)
            except (TypeError, ValueError):
                return
            if server.tzinfo is not None:
                self._clock_offset = (server - self.clock()).total_seconds()

    @property
    def clock_offset(self) -> float | None:
        """The server's clock minus ours, from the last answer's Date header (None before any)."""
        return self._clock_offset

    @property
    def api_calls(self) -> int:
        """HTTP calls made so far (sign-in calls included)."""
        return self._adapter.calls

    def usage(self) -> ApiUsage | None:
        """The daily API allocation as of the last answer that carried Sforce-Limit-Info."""
        return self._usage

    # -- the Salesforce object ------------------------------------------------------------------
    @property
    def version(self) -> str:
        """The pinned REST API version."""
        return self.config.api_version

    def _build(self, access_token: str, instance_url: str) -> Salesforce:
        if not instance_url.startswith("https://"):
            raise FatalError(
                f"the Salesforce instance URL {instance_url!r} is not an https:// URL",
                code="SF-CONFIG",
                advice="`rgsync settings set salesforce.instance-url https://yourdomain.my.salesforce.com`",
            )
        return Salesforce(
            session_id=access_token,
            instance_url=instance_url,
            session=self.http,
            version=self.config.api_version,
        )

    def salesforce(self) -> Salesforce:
        """The simple-salesforce object, signing in first when needed."""
        if self._sf is None:
            grant = self.translate_call(self.signin.current)
            self._sf = self._build(grant.access_token, grant.instance_url)
        return self._sf

    @property
    def instance_url(self) -> str:
        """The org's instance URL (signing in first when needed)."""
        return f"https://{self.salesforce().sf_instance}"

    # -- the one place errors are mapped -----------------------------------------------------------
    def translate(self, exc: BaseException) -> ProviderError:
        """The rgsync error for anything a Salesforce call raised."""
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, SalesforceExpiredSession):
            return auth_error("the Salesforce session is no longer valid (401 INVALID_SESSION_ID)")
        if isinstance(
            exc,
            SalesforceGeneralError
            | SalesforceRefusedRequest
            | SalesforceMalformedRequest
            | SalesforceResourceNotFound
            | SalesforceMoreThanOneRecord,
        ):
            return error_for_status(int(exc.status), exc.content, self._retry_after)
        if isinstance(exc, SalesforceError):
            return error_for_status(int(getattr(exc, "status", 0) or 0), getattr(exc, "content", ""))
        if isinstance(exc, requests.exceptions.SSLError):
            return FatalError(
                f"cannot verify Salesforce's certificate: {exc}",
                code="SF-TLS",
                advice="set `salesforce.ca-file` to the CA bundle that signs your Salesforce (or proxy) certificate",
            )
        if isinstance(exc, requests.Timeout):
            return RetriableError(
                f"Salesforce did not answer in time ({type(exc).__name__})", code="SF-TIMEOUT"
            )
        if isinstance(exc, requests.ConnectionError):
            return RetriableError(f"cannot reach Salesforce ({type(exc).__name__})", code="SF-NETWORK")
        if isinstance(exc, requests.RequestException | json.JSONDecodeError):
            return RetriableError(
                f"unexpected answer from Salesforce ({type(exc).__name__}: {exc})", code="SF-NETWORK"
            )
        raise exc

    def translate_call(self, call: Callable[[], T]) -> T:
        """Run `call`, mapping its failures (used for sign-in calls, which have no Salesforce object)."""
        try:
            return call()
        except (SalesforceError, requests.RequestException, ValueError) as exc:
            if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError):
                raise
            raise self.translate(exc) from exc

    def call(self, operation: Callable[[Salesforce], T]) -> T:
        """Run one Salesforce call; on 401 renew the token once (when possible) and call again."""
        for attempt in (0, 1):
            sf = self.salesforce()
            try:
                result = operation(sf)
            except SalesforceExpiredSession as exc:
                if attempt == 0 and self.signin.can_renew:
                    grant = self.translate_call(self.signin.renew)
                    self._sf = self._build(grant.access_token, grant.instance_url)
                    continue
                raise auth_error(
                    "Salesforce no longer accepts rgsync's sign-in (401 INVALID_SESSION_ID)"
                ) from exc
            except (SalesforceError, requests.RequestException, json.JSONDecodeError) as exc:
                raise self.translate(exc) from exc
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    # -- REST helpers ------------------------------------------------------------------------------
    def restful(
        self,
        path: str,
        *,
        method: str = "GET",
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        creates: bool | None = None,
    ) -> Any:
        """`Salesforce.restful` under `call` (JSON body, optional extra headers).

        `creates` says whether the call makes new records (default: a POST other than a
        Composite of queries). A transient failure of such a call, other than Salesforce saying
        it is busy, is an `UncertainWrite`: the records may have been saved before the answer was
        lost, so the session looks them up by natural key before sending them again. Updates,
        upserts by external id and deletes are safe to repeat and stay `RetriableError`.
        """
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["json"] = body
        if headers:
            kwargs["headers"] = dict(headers)
        if creates is None:
            creates = method == "POST" and path != "composite"
        try:
            return self.call(
                lambda sf: sf.restful(path, params=dict(params) if params else None, method=method, **kwargs)
            )
        except RetriableError as exc:
            if creates and exc.code not in ("SF-BUSY", "SF-HTTP-429"):
                raise UncertainWrite(exc.message, retry_after=exc.retry_after, code=exc.code) from exc
            raise

    def data_path(self, path: str) -> str:
        """A `/services/data/vXX.X/...` path for Composite subrequests."""
        return f"/services/data/v{self.version}/{path.lstrip('/')}"

    def query_url(self, soql: str, *, include_deleted: bool = False) -> str:
        """A query (or queryAll: deleted records too) as a Composite subrequest URL."""
        return self.data_path(("queryAll/?" if include_deleted else "query/?") + urlencode({"q": soql}))

    def composite(self, subrequests: Sequence[dict[str, Any]]) -> list[SubResponse]:
        """One Composite call (allOrNone false): ≤ 25 subrequests, ≤ 5 of them queries/collections."""
        if not subrequests:
            return []
        if len(subrequests) > COMPOSITE_SUBREQUESTS:
            raise ValueError(
                f"{len(subrequests)} subrequests in one Composite request (max {COMPOSITE_SUBREQUESTS})"
            )
        answer = self.restful(
            "composite",
            method="POST",
            body={"allOrNone": False, "compositeRequest": list(subrequests)},
            creates=any(str(s.get("method", "GET")).upper() == "POST" for s in subrequests),
        )
        responses = (answer or {}).get("compositeResponse") or []
        return [
            SubResponse(str(r.get("referenceId", "")), int(r.get("httpStatusCode", 0)), r.get("body"))
            for r in responses
        ]

    def more(self, page: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The records of a query answer and of its following pages (nextRecordsUrl)."""
        while True:
            yield from page.get("records") or []
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.call(_more_of(str(next_url)))

    def query(self, soql: str) -> list[dict[str, Any]]:
        """Every record of one query (following its pages)."""
        return list(self.more(self.call(lambda sf: sf.query(soql))))

    def queries(self, soqls: Sequence[str]) -> list[list[dict[str, Any]]]:
        """Run several queries in as few calls as possible: one GET for a single short query,
        otherwise Composite requests of up to five queries each. Results in input order."""
        if not soqls:
            return []
        if len(soqls) == 1 and encoded_length(soqls[0]) <= MAX_ENCODED_QUERY:
            return [self.query(soqls[0])]
        results: list[list[dict[str, Any]]] = []
        for start in range(0, len(soqls), COMPOSITE_HEAVY):
            batch = soqls[start : start + COMPOSITE_HEAVY]
            subrequests = [
                {"method": "GET", "url": self.query_url(soql), "referenceId": f"q{n}"}
                for n, soql in enumerate(batch)
            ]
            for answer in self.composite(subrequests):
                if not answer.ok:
                    raise answer.error()
                results.append(list(self.more(answer.body or {})))
        return results


def _more_of(url: str) -> Callable[[Salesforce], Any]:
    def fetch(sf: Salesforce) -> Any:
        return sf.query_more(url, identifier_is_url=True)

    return fetch


__all__ = [
    "AUTH_CODE",
    "BUDGET_CODE",
    "RECONNECT",
    "SalesforceClient",
    "SubResponse",
    "error_for_status",
]
