"""Signing in to Microsoft 365 with msal.

Two ways, per SPEC §9:

* a user (the usual case): `rgsync connect microsoft365` runs msal's device-code flow once
  (`PublicClientApplication.initiate_device_flow` / `acquire_token_by_device_flow`); msal's token
  cache (`SerializableTokenCache`) is kept in the credentials store under
  `microsoft365.token-cache`, and every later run (cron) gets its token with
  `acquire_token_silent`, which refreshes it without asking anyone;
* an admin running many mailboxes: app-only client credentials
  (`ConfidentialClientApplication.acquire_token_for_client`) with a client secret
  (`microsoft365.client-secret`) or a certificate (`microsoft365.client-certificate`, JSON with
  `private_key` PEM and `thumbprint`), acting on `/users/{address}`.

msal only accepts an https authority and, for hosts it does not know, would ask
login.microsoftonline.com to vouch for them; a configured authority is therefore used with
`instance_discovery=False`. When `ca-file` is set, the requests session trusts exactly that CA and
ignores the environment (`trust_env=False`): REQUESTS_CA_BUNDLE would otherwise override it.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msal
import msal.exceptions
import requests
from requests.adapters import HTTPAdapter

from rgsync.credentials import CredentialStore
from rgsync.providers.base import AuthError, ProviderError, RetriableError

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_TENANT = "organizations"
KNOWN_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
        "login.microsoft.com",
    }
)
GRAPH_SCOPES = (
    "https://graph.microsoft.com/Mail.ReadWrite",
    "https://graph.microsoft.com/Calendars.ReadWrite",
    "https://graph.microsoft.com/Contacts.ReadWrite",
    "https://graph.microsoft.com/Tasks.ReadWrite",
    "https://graph.microsoft.com/User.Read",
)
APP_SCOPES = ("https://graph.microsoft.com/.default",)
TOKEN_CACHE = "microsoft365.token-cache"
CLIENT_SECRET = "microsoft365.client-secret"
CLIENT_CERTIFICATE = "microsoft365.client-certificate"
RECONNECT = "run `rgsync connect microsoft365`"


@dataclass(frozen=True)
class SignInConfig:
    """Where and as which app to sign in: the app's client id and the authority URL (with tenant)."""

    client_id: str
    authority: str
    ca_file: str | None = None

    @property
    def instance_discovery(self) -> bool | None:
        """msal's default for Microsoft's own hosts; off for any other (a sandbox, a proxy)."""
        return None if urlsplit(self.authority).hostname in KNOWN_AUTHORITY_HOSTS else False


def authority_url(base: str | None, tenant: str | None) -> str:
    """The authority msal wants: `https://login.microsoftonline.com/{tenant}`. A base that already
    names a tenant (has a path) is used as it is."""
    root = (base or DEFAULT_AUTHORITY).rstrip("/")
    if urlsplit(root).path.strip("/"):
        return root
    return f"{root}/{tenant or DEFAULT_TENANT}"


class _NoThrottleCache(dict[Any, Any]):
    """A mapping that keeps nothing: msal's throttling cache would otherwise replay a 429/5xx of
    the sign-in service for up to a minute without asking again, a retry policy hidden from the
    session's own (which honours Retry-After itself)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        return None


def _unavailable(exc: Exception, what: str) -> RetriableError:
    """A transient failure of the sign-in service (msal's `MsalServiceError` or a transport error)."""
    status = re.search(r"\b([45]\d\d)\b", str(exc))
    detail = f"HTTP {status.group(1)}" if status else type(exc).__name__
    return RetriableError(
        f"the Microsoft 365 sign-in service is unavailable ({what}: {detail})", code="MAIL-UNAVAILABLE"
    )


def http_session(ca_file: str | None) -> requests.Session:
    """A requests session; with `ca_file`, it trusts that CA only and ignores proxy/CA env vars.

    Its adapters never retry (`max_retries=0`): the session's one retry policy does that.
    """
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if ca_file:
        session.trust_env = False
        session.verify = ca_file
    return session


def _failure(result: Mapping[str, Any] | None, what: str) -> ProviderError:
    """The error for a token request msal answered without a token.

    No answer at all (msal found no refresh token it could use) or `invalid_grant` /
    `interaction_required` mean the stored sign-in was revoked or has expired: only signing in
    again fixes that. A 5xx-like `temporarily_unavailable` is transient.
    """
    error = str((result or {}).get("error") or "")
    description = str((result or {}).get("error_description") or "")
    first_line = description.splitlines()[0] if description else ""
    if error in ("temporarily_unavailable", "server_error"):
        return RetriableError(
            f"the Microsoft 365 sign-in service is unavailable ({what}: {error})", code="MAIL-UNAVAILABLE"
        )
    if error in ("invalid_grant", "interaction_required") or (not error and what == "silent refresh"):
        reason = f" ({first_line})" if first_line else ""
        return AuthError(
            f"the Microsoft 365 sign-in was revoked or has expired{reason}; run `rgsync connect microsoft365`",
            code="MAIL-AUTH",
            advice=RECONNECT,
        )
    return AuthError(
        f"Microsoft 365 sign-in failed ({what}): {first_line or error or 'no token came back'}",
        code="MAIL-AUTH",
        advice=RECONNECT,
    )


class DelegatedTokens:
    """Tokens of a signed-in user from msal's cache in the credentials store (silent refresh)."""

    def __init__(
        self,
        config: SignInConfig,
        store: CredentialStore,
        session: requests.Session,
        *,
        address: str = "",
        scopes: tuple[str, ...] = GRAPH_SCOPES,
    ) -> None:
        self.config = config
        self.store = store
        self.session = session
        self.address = address.lower()
        self.scopes = list(scopes)
        self._app: msal.PublicClientApplication | None = None
        self._cache: msal.SerializableTokenCache | None = None
        self._token: str | None = None

    def _application(self) -> msal.PublicClientApplication:
        if self._app is None:
            self._cache = msal.SerializableTokenCache()
            saved = self.store.get(TOKEN_CACHE)
            if not saved:
                raise AuthError(
                    "Microsoft 365 is not connected: no sign-in is stored", code="MAIL-AUTH", advice=RECONNECT
                )
            self._cache.deserialize(saved)
            try:
                self._app = msal.PublicClientApplication(
                    self.config.client_id,
                    authority=self.config.authority,
                    token_cache=self._cache,
                    http_client=self.session,
                    http_cache=_NoThrottleCache(),
                    instance_discovery=self.config.instance_discovery,
                )
            except ValueError as exc:  # msal's words for an authority it cannot use
                raise AuthError(
                    f"Microsoft 365 sign-in authority refused: {exc}", code="MAIL-AUTH", advice=RECONNECT
                ) from exc
            except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
                raise _unavailable(exc, "opening the sign-in") from exc
        return self._app

    def token(self, *, fresh: bool = False) -> str:
        """An access token; `fresh` forces a refresh (after Graph answered 401)."""
        if self._token is not None and not fresh:
            return self._token
        app = self._application()
        accounts = app.get_accounts()
        mine = [a for a in accounts if str(a.get("username", "")).lower() == self.address] or accounts
        if not mine:
            raise AuthError(
                "Microsoft 365 is not connected: the stored sign-in has no account",
                code="MAIL-AUTH",
                advice=RECONNECT,
            )
        try:
            # The `_with_error` form keeps the service's reason (invalid_grant: revoked) instead
            # of a bare None.
            result = app.acquire_token_silent_with_error(self.scopes, account=mine[0], force_refresh=fresh)
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            raise _unavailable(exc, "refreshing the token") from exc
        if not result or "access_token" not in result:
            raise _failure(result, "silent refresh")
        self._save()
        self._token = str(result["access_token"])
        return self._token

    def _save(self) -> None:
        if self._cache is not None and self._cache.has_state_changed:
            self.store.set(TOKEN_CACHE, self._cache.serialize())
            self._cache.has_state_changed = False


class AppTokens:
    """App-only tokens (client credentials) with a client secret or a certificate."""

    def __init__(
        self, config: SignInConfig, credential: str | dict[str, str], session: requests.Session
    ) -> None:
        self.config = config
        self.credential = credential
        self.session = session
        self._app: msal.ConfidentialClientApplication | None = None

    def token(self, *, fresh: bool = False) -> str:
        """An app-only access token (msal keeps it in memory until it nearly expires)."""
        try:
            if self._app is None or fresh:
                self._app = msal.ConfidentialClientApplication(
                    self.config.client_id,
                    client_credential=self.credential,
                    authority=self.config.authority,
                    http_client=self.session,
                    http_cache=_NoThrottleCache(),
                    instance_discovery=self.config.instance_discovery,
                )
            result = self._app.acquire_token_for_client(list(APP_SCOPES))
        except ValueError as exc:
            raise AuthError(
                f"Microsoft 365 sign-in authority refused: {exc}", code="MAIL-AUTH", advice=RECONNECT
            ) from exc
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            raise _unavailable(exc, "client credentials") from exc
        if not result or "access_token" not in result:
            raise _failure(result, "client credentials")
        return str(result["access_token"])


def app_credential(store: CredentialStore) -> str | dict[str, str] | None:
    """The stored client secret or certificate for app-only access, None when there is none."""
    secret = store.get(CLIENT_SECRET)
    if secret:
        return secret
    certificate = store.get(CLIENT_CERTIFICATE)
    if certificate:
        try:
            parsed = json.loads(certificate)
        except ValueError:
            raise AuthError(
                "the stored Microsoft 365 certificate is damaged", code="MAIL-AUTH", advice=RECONNECT
            ) from None
        return {"private_key": str(parsed["private_key"]), "thumbprint": str(parsed["thumbprint"])}
    return None


@dataclass
class DeviceSignIn:
    """A started device-code sign-in: show `message` to the user, then `wait()`."""

    app: msal.PublicClientApplication
    cache: msal.SerializableTokenCache
    flow: dict[str, Any]
    store: CredentialStore | None

    @property
    def serialized_cache(self) -> str:
        """msal's token cache after the sign-in, as stored under `microsoft365.token-cache`."""
        return str(self.cache.serialize())

    @property
    def message(self) -> str:
        """What to tell the user: where to go and which code to enter."""
        return str(
            self.flow.get("message") or f"Open {self.verification_uri} and enter the code {self.user_code}"
        )

    @property
    def user_code(self) -> str:
        """The code the user enters on the sign-in page."""
        return str(self.flow.get("user_code", ""))

    @property
    def verification_uri(self) -> str:
        """The page where the user enters the code."""
        return str(self.flow.get("verification_uri", ""))

    def wait(
        self, *, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time
    ) -> str:
        """Poll until the user has signed in; store msal's cache and return the signed-in username.

        Polls every `interval` seconds as the service asks (`sleep` is injectable for tests) and
        stops with an AuthError when the user declines or the code expires.
        """
        deadline = float(self.flow.get("expires_at") or clock() + 900)
        while True:
            with warnings.catch_warnings():
                # Our own loop does the waiting; msal's "attempted too soon" check uses real time.
                warnings.simplefilter("ignore", UserWarning)
                result = self.app.acquire_token_by_device_flow(self.flow, exit_condition=lambda _flow: True)
            if "access_token" in result:
                if self.store is not None:
                    self.store.set(TOKEN_CACHE, self.cache.serialize())
                claims = result.get("id_token_claims") or {}
                return str(claims.get("preferred_username") or claims.get("upn") or "")
            if result.get("error") not in ("authorization_pending", "slow_down"):
                raise _failure(result, "device code")
            if clock() >= deadline:
                raise AuthError(
                    "the Microsoft 365 sign-in code expired before it was used",
                    code="MAIL-AUTH",
                    advice=RECONNECT,
                )
            sleep(float(self.flow.get("interval", 5)))


def start_device_sign_in(
    config: SignInConfig, store: CredentialStore | None, session: requests.Session
) -> DeviceSignIn:
    """Ask the authority for a device code (msal's device-code flow) for the Graph scopes rgsync needs.

    The token cache goes into `store` once the user has signed in (None: keep it in the result only).
    """
    cache = msal.SerializableTokenCache()
    try:
        app = msal.PublicClientApplication(
            config.client_id,
            authority=config.authority,
            token_cache=cache,
            http_client=session,
            instance_discovery=config.instance_discovery,
        )
        flow = app.initiate_device_flow(scopes=list(GRAPH_SCOPES))
    except ValueError as exc:
        raise AuthError(
            f"Microsoft 365 sign-in authority refused: {exc}",
            code="MAIL-AUTH",
            advice="check mailbox.authority-url and mailbox.tenant-id",
        ) from exc
    except requests.RequestException as exc:
        raise AuthError(
            f"cannot reach the Microsoft 365 sign-in authority: {type(exc).__name__}",
            code="MAIL-AUTH",
            advice="check the network and mailbox.authority-url",
        ) from exc
    if "user_code" not in flow:
        raise _failure(flow, "device code")
    return DeviceSignIn(app, cache, flow, store)
