"""The connection to an Exchange server: exchangelib configuration, the one error mapping, request
counting, folders, and closing.

exchangelib is always given the server version and the authentication type, so it never probes
the server (it would otherwise send a burst of unauthenticated requests first). Its own retry
policy is FailFast and nothing is repeated here: each SOAP call is sent once and its failure
classified; the session's one retry policy waits (honouring ErrorServerBusy's
BackOffMilliseconds, SPEC §7.3) and repeats.

exchangelib keeps one Protocol (HTTP session pool) per endpoint and credentials in a process-wide
cache, and a cached Protocol keeps the settings it was first created with. `EwsConnection` drops
its own entry from that cache when it closes, so the next mailbox opened in the same process (a
test, or a second profile) gets a fresh Protocol with its own settings.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    EWSTimeZone,
    FailFast,
    Version,
)
from exchangelib import errors as ews_errors
from exchangelib.folders import Folder, Root
from exchangelib.properties import DistinguishedFolderId
from exchangelib.properties import Mailbox as MailboxElement
from exchangelib.protocol import CachingProtocol

from rgsync.providers.base import (
    AuthError,
    FatalError,
    ItemError,
    ProviderError,
    RetriableError,
    UncertainWrite,
)
from rgsync.providers.retry_hint import retry_after_seconds

log = logging.getLogger("rgsync.exchange")

T = TypeVar("T")

RECONNECT_ADVICE = "run `rgsync connect exchange`"
# Names of the secrets in the credentials store (SPEC §9): the password for NTLM and basic
# sign-in, an access token for OAuth (hybrid set-ups).
PASSWORD_SECRET = "exchange.password"
TOKEN_SECRET = "exchange.token"
# Exchange 2016 CU-level build: every supported on-premises server (2016, 2019, Subscription
# Edition) speaks this schema, and passing it means exchangelib never guesses the version.
SERVER_BUILD = Build(15, 1, 2507, 6)
AUTH_TYPES = {"ntlm": NTLM, "basic": BASIC, "oauth": OAUTH2}

# Failures after which the server certainly did not carry out the request: safe to send again.
_REFUSED = (
    ews_errors.ErrorServerBusy,
    ews_errors.ErrorInternalServerTransientError,
    ews_errors.ErrorTooManyObjectsOpened,
    ews_errors.ErrorMailboxStoreUnavailable,
    ews_errors.ErrorExceededConnectionCount,
    ews_errors.ErrorConnectionFailedTransientError,
)
# Failures whose outcome is unknown (the connection broke): a create then becomes an `UncertainWrite`.
_UNCERTAIN = (
    ews_errors.ErrorTimeoutExpired,
    ews_errors.ErrorInternalServerError,
    ews_errors.ErrorConnectionFailed,
    ews_errors.RateLimitError,
    requests.exceptions.RequestException,
    ConnectionError,
    TimeoutError,
)
_AUTH = (
    ews_errors.UnauthorizedError,
    ews_errors.ErrorAccessDenied,
    ews_errors.ErrorImpersonateUserDenied,
    ews_errors.ErrorImpersonationDenied,
    ews_errors.ErrorImpersonationFailed,
    ews_errors.CASError,
)
_ITEM_CODES = {
    ews_errors.ErrorItemNotFound: "MAIL-NOT-FOUND",
    ews_errors.ErrorFolderNotFound: "MAIL-FOLDER-NOT-FOUND",
    ews_errors.ErrorIrresolvableConflict: "MAIL-CONFLICT",
    ews_errors.ErrorInvalidSyncStateData: "MAIL-SYNC-STATE-INVALID",
    ews_errors.ErrorCalendarEndDateIsEarlierThanStartDate: "MAIL-INVALID",
    ews_errors.ErrorInvalidPropertySet: "MAIL-INVALID",
    ews_errors.ErrorQuotaExceeded: "MAIL-QUOTA",
}


def provider_error(exc: BaseException, what: str) -> ProviderError:
    """The rgsync error for a failure of an EWS call or one item of it (`what` names the call).

    The one mapping every EWS failure goes through: throttling, 5xx and broken connections are
    retriable (ErrorServerBusy's BackOffMilliseconds becomes `retry_after`); sign-in failures are
    an `AuthError` (MAIL-AUTH); a refused item or an invalid sync state an `ItemError`; the rest
    fatal for the stream.
    """
    if isinstance(exc, ProviderError):
        return exc
    text = f"Exchange refused {what}: {type(exc).__name__}: {exc}"
    if isinstance(exc, ews_errors.ErrorServerBusy):
        hint = getattr(exc, "back_off", None)
        return RetriableError(
            f"Exchange is busy and asked rgsync to back off ({what})",
            retry_after=retry_after_seconds(hint),
            code="MAIL-THROTTLED",
        )
    if isinstance(exc, _REFUSED):
        return RetriableError(text, code="MAIL-UNAVAILABLE")
    if isinstance(exc, ews_errors.MalformedResponseError) and _status_of(str(exc)) >= 500:
        return RetriableError(text, code="MAIL-UNAVAILABLE")
    if isinstance(exc, ews_errors.MalformedResponseError) and _status_of(str(exc)) == 429:
        return RetriableError(text, code="MAIL-THROTTLED")
    if isinstance(exc, _UNCERTAIN):
        return RetriableError(f"the connection to Exchange failed ({what}): {exc}", code="MAIL-UNAVAILABLE")
    if isinstance(exc, ews_errors.ErrorImpersonateUserDenied):
        return AuthError(
            f"Exchange refused the impersonation ({what}): the account may not impersonate this mailbox",
            code="MAIL-AUTH",
            advice="give the account the ApplicationImpersonation role with a management scope that "
            "includes this mailbox (New-ManagementRoleAssignment -Role ApplicationImpersonation "
            "-User ACCOUNT -CustomRecipientWriteScope SCOPE)",
        )
    if isinstance(exc, _AUTH):
        return AuthError(
            f"Exchange did not accept the sign-in ({what}): {exc}", code="MAIL-AUTH", advice=RECONNECT_ADVICE
        )
    if isinstance(exc, ews_errors.ErrorNonExistentMailbox):
        return FatalError(
            f"Exchange has no mailbox for this address ({what}): {exc}",
            code="MAIL-CONFIG",
            advice="check `mailbox.address` (and `mailbox.impersonate`) with `rgsync settings show`",
        )
    for cls, code in _ITEM_CODES.items():
        if isinstance(exc, cls):
            return ItemError(text, code=code)
    if isinstance(exc, ews_errors.ResponseMessageError | ews_errors.EWSError):
        if isinstance(exc, ews_errors.TransportError) and not isinstance(
            exc, ews_errors.ResponseMessageError
        ):
            return FatalError(f"cannot talk to Exchange ({what}): {exc}", code="MAIL-CONNECTION")
        return ItemError(text, code="MAIL-REFUSED")
    return FatalError(f"{what} failed: {type(exc).__name__}: {exc}", code="MAIL-ERROR")


def _status_of(message: str) -> int:
    found = re.search(r"Code: (\d{3})", message)
    return int(found.group(1)) if found else 0


@dataclass(frozen=True)
class ConnectionSettings:
    """What it takes to reach one mailbox over EWS (from `[mailbox]` and the credentials store)."""

    address: str
    ews_url: str
    username: str
    secret: str
    auth_type: str = "ntlm"
    impersonate: bool = False
    time_zone: str = "UTC"
    ca_file: str | None = None


@dataclass
class EwsConnection:
    """An exchangelib Account for one mailbox, the SOAP request counter and the one call path."""

    settings: ConnectionSettings
    requests_sent: int = 0
    # Set when the credentials store holds no secret: raised at the first call, so the session
    # reports MAIL-AUTH with the fix instead of failing to open the mailbox.
    missing_secret: AuthError | None = None
    _account: Account | None = None
    _config: Configuration | None = None

    @property
    def account(self) -> Account:
        """The exchangelib Account (built at first use; building it sends nothing)."""
        if self._account is None:
            self._account = self._open()
        return self._account

    def _open(self) -> Account:
        if self.missing_secret is not None:
            raise self.missing_secret
        s = self.settings
        auth_type = AUTH_TYPES.get(s.auth_type.lower())
        if auth_type is None:
            raise FatalError(
                f"unknown Exchange sign-in type {s.auth_type!r}",
                code="MAIL-CONFIG",
                advice="use `rgsync settings set mailbox.auth-type ntlm|basic|oauth`",
            )
        if auth_type == OAUTH2:
            from exchangelib import OAuth2AuthorizationCodeCredentials
            from oauthlib.oauth2 import OAuth2Token

            credentials: Any = OAuth2AuthorizationCodeCredentials(
                access_token=OAuth2Token({"access_token": s.secret, "token_type": "Bearer"})
            )
        else:
            credentials = Credentials(s.username, s.secret)
        self._config = Configuration(
            service_endpoint=s.ews_url,
            credentials=credentials,
            auth_type=auth_type,
            version=Version(build=SERVER_BUILD),
            retry_policy=FailFast(),
            max_connections=1,
        )
        self._forget_cached_protocol()
        account = Account(
            primary_smtp_address=s.address,
            config=self._config,
            autodiscover=False,
            access_type=IMPERSONATION if s.impersonate else DELEGATE,
            default_timezone=_ews_zone(s.time_zone),
        )
        self._count_requests(account.protocol)
        return account

    def _count_requests(self, protocol: Any) -> None:
        """Count every HTTP answer on the sessions this protocol creates (api_calls, SPEC §10)."""
        original = protocol.create_session

        def counting_session() -> Any:
            session = original()
            session.hooks["response"].append(self._on_response)
            session.hooks["response"].append(_read_in_blocks)
            if self.settings.ca_file:
                # requests lets REQUESTS_CA_BUNDLE override a session's `verify` unless the
                # session ignores the environment.
                session.trust_env = False
                session.verify = self.settings.ca_file
            return session

        protocol.create_session = counting_session

    def _on_response(self, response: Any, *_args: Any, **_kwargs: Any) -> None:
        self.requests_sent += 1

    def _forget_cached_protocol(self) -> None:
        if self._config is None:
            return
        with contextlib.suppress(KeyError):
            with CachingProtocol._protocol_cache_lock:
                protocol, _ = CachingProtocol._protocol_cache.pop(CachingProtocol._cache_key(self._config))
            if not isinstance(protocol, Exception):
                protocol.close()

    def close(self) -> None:
        """Close the HTTP sessions and drop this mailbox's Protocol from exchangelib's cache."""
        self._forget_cached_protocol()
        self._account = None

    # --- calls ----------------------------------------------------------------------------------------

    def call(self, what: str, send: Callable[[], T], *, repeatable: bool = True) -> T:
        """Send one EWS call once (`send` must consume the service's answer), mapping failures.

        A transient failure of a call that is not `repeatable` (a create) is an `UncertainWrite`
        unless the server said it was throttled (then it did nothing): a broken connection or a
        5xx leaves unknown what the server made, so the session looks before sending again. For
        any other call it is a plain `RetriableError`.
        """
        try:
            with warnings.catch_warnings():
                # exchangelib warns when a server sends a time zone it cannot map; the
                # adapter reports those itself (see convert.unmapped_zone).
                warnings.simplefilter("ignore")
                return send()
        except Exception as exc:
            mapped = provider_error(exc, what)
            if not repeatable and isinstance(mapped, RetriableError) and mapped.code != "MAIL-THROTTLED":
                mapped = UncertainWrite(mapped.message, retry_after=mapped.retry_after, code=mapped.code)
            raise mapped from exc

    # --- folders ---------------------------------------------------------------------------------------

    def root(self) -> Root:
        """The mailbox root, addressed by its distinguished id (no request)."""
        return Root(account=self.account, _distinguished_id=self.distinguished_id("root"))

    def distinguished_id(self, name: str) -> DistinguishedFolderId:
        """A DistinguishedFolderId of this mailbox."""
        return DistinguishedFolderId(id=name, mailbox=MailboxElement(email_address=self.settings.address))

    def distinguished(self, cls: type[Folder], name: str) -> Folder:
        """A distinguished folder ('inbox', 'calendar', …) as an exchangelib folder, without a request."""
        return cls(root=self.root(), _distinguished_id=self.distinguished_id(name))

    def folder(self, cls: type[Folder], folder_id: str) -> Folder:
        """A folder known by id, without a request."""
        return cls(root=self.root(), id=folder_id, changekey=None)


# exchangelib parses every SOAP answer from `response.iter_content()`, whose default is one byte
# per chunk: a 1 MB GetItem answer became a million generator steps and bytearray extends, more
# CPU than the XML parsing itself. The body is already in memory (the request is not streamed),
# so handing it to the parser in blocks changes nothing but the cost.
READ_BLOCK = 64 * 1024


def _read_in_blocks(response: Any, *_args: Any, **kwargs: Any) -> None:
    """Response hook: `iter_content()` without a chunk size yields blocks of `READ_BLOCK` bytes.

    Streamed answers (exchangelib's streaming notifications split documents byte by byte) keep
    the library's default.
    """
    if kwargs.get("stream"):
        return
    whole = response.iter_content

    def iter_content(chunk_size: int | None = 1, decode_unicode: bool = False) -> Any:
        return whole(READ_BLOCK if chunk_size == 1 else chunk_size, decode_unicode)

    response.iter_content = iter_content


def _ews_zone(name: str) -> EWSTimeZone:
    try:
        return EWSTimeZone(name or "UTC")
    except Exception:  # an IANA name Windows has no zone for: calendar times still work in UTC
        return EWSTimeZone("UTC")


def chunked(items: Iterable[T], size: int) -> list[list[T]]:
    """`items` in consecutive lists of at most `size`."""
    out: list[list[T]] = []
    for item in items:
        if not out or len(out[-1]) >= size:
            out.append([])
        out[-1].append(item)
    return out
