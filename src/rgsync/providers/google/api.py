"""The Google API plumbing the four streams share: services, one error mapping, batches, counting.

Services are built from the discovery documents shipped with google-api-python-client (never a
discovery request). With an endpoint override (`mailbox.gmail-api-url`, used by the sandbox) every
service is pointed at it with the right service path, and batch URIs are built from it too, because
the client's own `new_batch_http_request()` ignores `api_endpoint`.

Failures are mapped in one place (`provider_error`) into the three kinds of `providers.base`:
429, 5xx, the 403 rate-limit reasons and transport failures are retriable (Retry-After honoured);
401 and refused refresh tokens are `AuthError` (MAIL-AUTH); everything else is an `ItemError`
with a code callers can act on (MAIL-NOT-FOUND for 404, MAIL-GONE for 410, …) or a `FatalError`.
Nothing is retried here and the client library never retries on its own (`num_retries=0`): a
batch whose parts were throttled raises, and the session's one retry policy repeats the read.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.auth.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest, HttpRequest

from rgsync.providers.base import (
    AuthError,
    FatalError,
    ItemError,
    ProviderError,
    RetriableError,
)
from rgsync.providers.retry_hint import header_retry_after

log = logging.getLogger("rgsync.providers.google")

RECONNECT_ADVICE = "run `rgsync connect gmail`"

# name -> (discovery name, version, service path under an overridden endpoint, batch path)
APIS: dict[str, tuple[str, str, str, str]] = {
    "gmail": ("gmail", "v1", "", "batch/gmail/v1"),
    "calendar": ("calendar", "v3", "calendar/v3/", "batch/calendar/v3"),
    "tasks": ("tasks", "v1", "", "batch/tasks/v1"),
    "people": ("people", "v1", "", "batch/people/v1"),
}
# Google's own batch endpoints (the per-API paths its batch guides document).
DEFAULT_BATCH_URIS = {
    "gmail": "https://gmail.googleapis.com/batch/gmail/v1",
    "calendar": "https://www.googleapis.com/batch/calendar/v3",
    "tasks": "https://tasks.googleapis.com/batch",
    "people": "https://people.googleapis.com/batch",
}
# Gmail advises against more than 50 calls per batch (rate limiting); Calendar allows more, but the
# same size keeps each HTTP call short.
BATCH_SIZE = 50
HTTP_TIMEOUT = 60.0

# 403 reasons that mean "slow down", not "forbidden" (Gmail and Calendar usage limits).
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "backendError"})
# 403 reasons about the project's daily quota: retrying this session is pointless.
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})


class _AnswerLost(ConnectionResetError):
    """The server closed the connection before its answer came (the request may have been applied)."""


def _no_replay(base: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
    """A connection class whose lost answer is a plain error instead of a BadStatusLine.

    httplib2 silently sends a request again, whatever its method, when the first answer on a
    connection is missing (it takes that for a stale keep-alive connection). For a create that is a
    duplicate in the making: here the loss surfaces, and the session reconciles before re-sending.
    """

    class NoReplay(base):  # type: ignore[valid-type, misc]
        def getresponse(self) -> http.client.HTTPResponse:
            try:
                return super().getresponse()  # type: ignore[no-any-return]
            except (http.client.BadStatusLine, http.client.ResponseNotReady) as exc:
                raise _AnswerLost(f"the connection closed before the answer ({exc!r})") from exc

    NoReplay.__name__ = f"NoReplay{base.__name__}"
    return NoReplay


_NO_REPLAY = {
    "http": _no_replay(httplib2.HTTPConnectionWithTimeout),
    "https": _no_replay(httplib2.HTTPSConnectionWithTimeout),
}


class CountingHttp(httplib2.Http):  # type: ignore[misc]
    """An `httplib2.Http` that counts the HTTP requests it sends (token refreshes included) and
    never sends one twice on its own (see `_no_replay`)."""

    def __init__(self, timeout: float = HTTP_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.calls = 0

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """Send one request, as `httplib2.Http.request` does, counting it."""
        self.calls += 1
        if kwargs.get("connection_type") is None:
            uri = str(args[0] if args else kwargs.get("uri", ""))
            kwargs["connection_type"] = _NO_REPLAY["https" if uri.startswith("https:") else "http"]
        return super().request(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# Error mapping


def error_info(exc: HttpError) -> tuple[str, str, frozenset[str]]:
    """(first `errors[].reason`, message, every reason found incl. ErrorInfo details) of an HttpError."""
    reason, message, reasons = "", "", set()
    try:
        body = json.loads(exc.content.decode("utf-8", "replace")) if exc.content else {}
    except (ValueError, AttributeError):
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        for item in error.get("errors") or ():
            if isinstance(item, dict) and item.get("reason"):
                reasons.add(str(item["reason"]))
                reason = reason or str(item["reason"])
        for detail in error.get("details") or ():
            if isinstance(detail, dict) and detail.get("reason"):
                reasons.add(str(detail["reason"]))
        if error.get("status"):
            reasons.add(str(error["status"]))
    elif isinstance(error, str):
        reason = error
        reasons.add(error)
    return reason, message or str(getattr(exc, "reason", "") or ""), frozenset(reasons)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds, "1.5", or an HTTP date), None when absent."""
    return header_retry_after(headers)


def provider_error(exc: BaseException, what: str) -> ProviderError | None:
    """The rgsync error for a failure of a Google call (`what` names the call); None when unknown.

    The one mapping every Google call goes through (SPEC §7.3).
    """
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        reason, message, reasons = error_info(exc)
        text = f"Google refused {what}: {status} {message or reason}".strip()
        if status == 429 or status >= 500 or (status == 403 and reasons & RATE_LIMIT_REASONS):
            return RetriableError(text, retry_after=retry_after(exc.resp), code="MAIL-UNAVAILABLE")
        if status == 401:
            return AuthError(
                f"Google did not accept the Gmail sign-in ({what}): {message or 'unauthorized'}",
                code="MAIL-AUTH",
                advice=RECONNECT_ADVICE,
            )
        if status == 403 and reasons & QUOTA_REASONS:
            return FatalError(
                text, code="MAIL-QUOTA", advice="Google's daily quota is used up; rgsync tries again later"
            )
        if status == 403:
            return FatalError(
                text,
                code="MAIL-PERMISSION",
                advice=f"allow rgsync the Gmail, Calendar, Tasks and Contacts permissions: {RECONNECT_ADVICE}",
            )
        if status == 404:
            return ItemError(text, code="MAIL-NOT-FOUND")
        if status == 410:
            return ItemError(text, code="MAIL-GONE")
        if status == 409:
            return ItemError(text, code="MAIL-DUPLICATE")
        if "EXPIRED_SYNC_TOKEN" in reasons or "Sync token is expired" in message:
            return ItemError(text, code="MAIL-SYNC-TOKEN-EXPIRED")
        if status == 412 or "failedPrecondition" in reasons or "FAILED_PRECONDITION" in reasons:
            return ItemError(text, code="MAIL-CONFLICT")
        return ItemError(text, code="MAIL-REFUSED")
    if isinstance(exc, google.auth.exceptions.RefreshError):
        if getattr(exc, "retryable", False):
            return RetriableError(
                f"Google's sign-in service did not answer ({what})", code="MAIL-UNAVAILABLE"
            )
        delegation = _delegation_refusal(str(exc))
        if delegation is not None:
            return delegation
        return AuthError(
            "the Gmail sign-in was revoked or has expired: Google refused to refresh it",
            code="MAIL-AUTH",
            advice=RECONNECT_ADVICE,
        )
    if isinstance(exc, google.auth.exceptions.TransportError):
        return RetriableError(
            f"could not reach Google's sign-in service ({what}): {exc}", code="MAIL-UNAVAILABLE"
        )
    if isinstance(exc, httplib2.error.ServerNotFoundError):
        return RetriableError(f"could not reach Google ({what}): {exc}", code="MAIL-UNAVAILABLE")
    if isinstance(exc, (OSError, socket.timeout, http.client.HTTPException, httplib2.HttpLib2Error)):
        return RetriableError(f"the connection to Google failed ({what}): {exc!r}", code="MAIL-UNAVAILABLE")
    return None


# --------------------------------------------------------------------------------------------


class GoogleApi:
    """Built services, the one execute/batch path, and the count of HTTP requests sent.

    `credentials` is called once, on first use, so a missing or broken sign-in surfaces as an
    `AuthError` inside the session (a MAIL-AUTH issue) rather than when the mailbox is opened.
    """

    def __init__(
        self,
        credentials: Callable[[], Credentials],
        *,
        endpoint: str | None = None,
    ) -> None:
        self._credentials_factory = credentials
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self._http: CountingHttp | None = None
        self._authorized: google_auth_httplib2.AuthorizedHttp | None = None
        self.credentials: Credentials | None = None
        self._services: dict[str, Any] = {}
        self._resources: dict[tuple[str, ...], Any] = {}

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (a batch is one)."""
        return self._http.calls if self._http is not None else 0

    def _authorized_http(self) -> google_auth_httplib2.AuthorizedHttp:
        if self._authorized is None:
            self.credentials = self._credentials_factory()
            self._http = CountingHttp()
            self._authorized = google_auth_httplib2.AuthorizedHttp(self.credentials, http=self._http)
        return self._authorized

    def service(self, name: str) -> Any:
        """The discovery-built service for 'gmail', 'calendar', 'tasks' or 'people' (built once)."""
        if name not in self._services:
            api, version, service_path, _batch = APIS[name]
            options = {"api_endpoint": f"{self.endpoint}/{service_path}"} if self.endpoint else None
            self._services[name] = build(
                api,
                version,
                http=self._authorized_http(),
                static_discovery=True,
                client_options=options,
                cache_discovery=False,
            )
        return self._services[name]

    def resource(self, name: str, *path: str) -> Any:
        """A resource of a service, e.g. `resource("gmail", "users", "messages")`, built once.

        The client library builds every method of a resource, with its documentation, each time
        the resource is asked for (`service.users().messages()`): about 1 ms a method, so asked
        for per request it cost a fleet session more CPU than its HTTP calls.
        """
        key = (name, *path)
        found = self._resources.get(key)
        if found is None:
            found = self.service(name)
            for part in path:
                found = getattr(found, part)()
            self._resources[key] = found
        return found

    def batch_uri(self, name: str) -> str:
        """Where batches of `name` calls go (built from the override when there is one)."""
        return f"{self.endpoint}/{APIS[name][3]}" if self.endpoint else DEFAULT_BATCH_URIS[name]

    def execute(self, request: HttpRequest, what: str) -> Any:
        """Send one request (exactly one HTTP call, no library retries); failures mapped."""
        try:
            return request.execute(num_retries=0)
        except Exception as exc:
            mapped = provider_error(exc, what)
            if mapped is None or mapped is exc:
                raise
            raise mapped from exc

    def batch(
        self, name: str, requests: Mapping[str, HttpRequest], what: str, *, size: int = BATCH_SIZE
    ) -> dict[str, Any]:
        """Send `requests` (key → request) in batches of at most `size`; returns key → response.

        A key whose call failed maps to its `ProviderError` (ItemError, …) instead of a response.
        Only for reads (they are safe to repeat). When parts are refused with 429/5xx/rate-limit
        reasons a `RetriableError` carrying the longest Retry-After is raised and the session's
        retry policy repeats the read. An `AuthError` in any part is raised at once.
        """
        results: dict[str, Any] = {}
        keys = list(requests)
        for start in range(0, len(keys), size):
            pending = keys[start : start + size]
            failed = self._send_batch(name, {k: requests[k] for k in pending}, what, results)
            if failed:
                last = failed[-1][1]
                hints = [err.retry_after for _k, err in failed if err.retry_after is not None]
                raise RetriableError(
                    f"{len(failed)} of {what} failed: {last.message}",
                    retry_after=max(hints) if hints else None,
                    code="MAIL-UNAVAILABLE",
                )
        return results

    def _send_batch(
        self, name: str, requests: Mapping[str, HttpRequest], what: str, results: dict[str, Any]
    ) -> list[tuple[str, RetriableError]]:
        """One batch HTTP call; fills `results` and returns the parts worth retrying."""
        retry: list[tuple[str, RetriableError]] = []

        def collect(request_id: str, response: Any, exception: BaseException | None) -> None:
            if exception is None:
                results[request_id] = response
                return
            mapped = provider_error(exception, what)
            if mapped is None:
                mapped = FatalError(f"{what} failed: {exception!r}", code="MAIL-ERROR")
            if isinstance(mapped, RetriableError):
                retry.append((request_id, mapped))
            else:
                results[request_id] = mapped

        if len(requests) == 1:
            # A batch of one is just a call; sending it plainly keeps the wire simple.
            [(key, request)] = requests.items()
            try:
                collect(key, request.execute(num_retries=0), None)
            except Exception as exc:
                if provider_error(exc, what) is None:
                    raise
                collect(key, None, exc)
        else:
            batch = BatchHttpRequest(callback=collect, batch_uri=self.batch_uri(name))
            for key, request in requests.items():
                batch.add(request, request_id=key)
            try:
                batch.execute(http=self._authorized_http())
            except Exception as exc:
                mapped = provider_error(exc, what)
                if mapped is None or mapped is exc:
                    raise
                if isinstance(mapped, RetriableError):
                    # The whole batch failed before any part ran: every part is worth retrying.
                    return [(k, mapped) for k in requests if k not in results]
                raise mapped from exc
        for key in requests:
            found = results.get(key)
            if isinstance(found, AuthError):
                raise found
        return retry


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """`items` cut into consecutive slices of at most `size`."""
    return [items[i : i + size] for i in range(0, len(items), size)]


DELEGATION_ADVICE = (
    "in the Google Admin console (Security > Access and data control > API controls > Domain-wide "
    "delegation) authorise the service account's client ID for gmail.modify, calendar.events, tasks "
    "and contacts"
)


def _delegation_refusal(text: str) -> AuthError | None:
    """A service account's refused token request (domain-wide delegation), said plainly."""
    if "unauthorized_client" in text:
        return AuthError(
            "Google refused the service account (unauthorized_client): its client ID is not authorised "
            "for rgsync's scopes by domain-wide delegation",
            code="MAIL-AUTH",
            advice=DELEGATION_ADVICE,
        )
    if "Invalid email or User ID" in text:
        return AuthError(
            "Google refused the service account (invalid_grant): the mailbox address is not a user of "
            "the Workspace domain",
            code="MAIL-AUTH",
            advice="fix the user's mailbox address (the roster's address column)",
        )
    if "Invalid JWT Signature" in text:
        return AuthError(
            "Google refused the service account (invalid_grant): the key is not one of the account's keys",
            code="MAIL-AUTH",
            advice="create a new JSON key for the service account in the Google Cloud console and use that file",
        )
    return None
