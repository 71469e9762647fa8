"""Signing in to Salesforce (SPEC §9): session id, username + password, JWT bearer, OAuth web flow.

Every flow ends in an access token (Salesforce calls it a session id) and the org's instance URL.
The token is kept in the credentials store so that the next session starts without a sign-in call;
when Salesforce answers 401 INVALID_SESSION_ID the token is renewed silently from what the flow
has (refresh token, private key, password). A flow with nothing to renew from (a pasted session
id), or a refused renewal (revoked refresh token, changed password), becomes an `AuthError` with
code SF-AUTH that tells the user to run `rgsync connect salesforce`.

The token endpoint is called directly (not through simple-salesforce's login helpers) because
those hard-code `https://{domain}.salesforce.com`, which leaves no room for a My Domain login URL
with a port, a test org's URL, or the loopback sandbox.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from rgsync.credentials import CredentialStore
from rgsync.providers.base import AuthError, FatalError, RetriableError

# Names of the secrets in the credentials store (SPEC §9: never in settings.toml).
SECRET_SESSION = "salesforce.session"  # the current access token / session id
SECRET_INSTANCE = "salesforce.instance-url"  # the instance the token belongs to (not secret, kept with it)
SECRET_PASSWORD = "salesforce.password"
SECRET_SECURITY_TOKEN = "salesforce.security-token"
SECRET_REFRESH_TOKEN = "salesforce.refresh-token"
SECRET_CONSUMER_SECRET = "salesforce.consumer-secret"
ALL_SECRETS = (
    SECRET_SESSION,
    SECRET_INSTANCE,
    SECRET_PASSWORD,
    SECRET_SECURITY_TOKEN,
    SECRET_REFRESH_TOKEN,
    SECRET_CONSUMER_SECRET,
)

AUTH_CODE = "SF-AUTH"
RECONNECT = "run `rgsync connect salesforce`"
AUTH_MODES = ("session", "password", "jwt", "oauth")
DEFAULT_LOGIN_URL = "https://login.salesforce.com"
DEFAULT_API_VERSION = "59.0"
JWT_LIFETIME_SECONDS = 180
OAUTH_SCOPE = "api refresh_token"
REDIRECT_PATH = "/oauth/callback"


@dataclass(frozen=True)
class SalesforceConfig:
    """The `[salesforce]` settings table, typed (SPEC §1): where and how to sign in."""

    auth: str = "oauth"
    instance_url: str = ""
    login_url: str = DEFAULT_LOGIN_URL
    username: str = ""
    api_version: str = DEFAULT_API_VERSION
    consumer_key: str = ""
    private_key_file: str = ""
    ca_file: str = ""

    @classmethod
    def from_table(cls, table: Mapping[str, object]) -> SalesforceConfig:
        """Build from `settings.salesforce` (leaf names, None for unset keys)."""

        def get(name: str, default: str = "") -> str:
            value = table.get(name)
            return str(value).strip() if value not in (None, "") else default

        return cls(
            auth=get("auth", "oauth").lower(),
            instance_url=get("instance-url").rstrip("/"),
            login_url=get("login-url", DEFAULT_LOGIN_URL).rstrip("/"),
            username=get("username"),
            api_version=get("api-version", DEFAULT_API_VERSION),
            consumer_key=get("consumer-key"),
            private_key_file=get("private-key-file"),
            ca_file=get("ca-file"),
        )


@dataclass(frozen=True)
class Grant:
    """What a successful sign-in gives: the token, the instance, the user and (web flow) a refresh token."""

    access_token: str
    instance_url: str
    user_id: str = ""
    refresh_token: str = ""


def auth_error(message: str) -> AuthError:
    """The one shape of a sign-in failure the session turns into an SF-AUTH issue."""
    return AuthError(message, code=AUTH_CODE, advice=RECONNECT)


def _user_from_identity(identity: object) -> str:
    """The user Id at the end of an identity URL (`…/id/00D…/005…`)."""
    if not isinstance(identity, str):
        return ""
    tail = identity.rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.startswith("005") else ""


def request_token(
    http: requests.Session, login_url: str, form: Mapping[str, str], timeout: float | tuple[float, float]
) -> Grant:
    """POST to `{login_url}/services/oauth2/token` and read the grant.

    400/401 answers (invalid_grant, invalid_client, …) are sign-in failures (AuthError); 5xx and
    network trouble are retriable.
    """
    url = f"{login_url.rstrip('/')}/services/oauth2/token"
    try:
        response = http.post(url, data=dict(form), timeout=timeout, headers={"Accept": "application/json"})
    except requests.exceptions.SSLError as exc:
        raise FatalError(
            f"cannot verify Salesforce's certificate at {login_url}: {exc}",
            code="SF-TLS",
            advice="set `salesforce.ca-file` to your company's CA bundle, or check the login URL",
        ) from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise RetriableError(f"cannot reach Salesforce at {login_url}: {type(exc).__name__}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise RetriableError(f"Salesforce sign-in answered HTTP {response.status_code}")
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = body.get("error", f"HTTP {response.status_code}") if isinstance(body, dict) else ""
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        detail = f"{error}: {description}" if description else str(error)
        raise auth_error(f"Salesforce refused the sign-in ({detail})")
    return Grant(
        access_token=str(body["access_token"]),
        instance_url=str(body.get("instance_url") or "").rstrip("/"),
        user_id=_user_from_identity(body.get("id")),
        refresh_token=str(body.get("refresh_token") or ""),
    )


def jwt_advice(message: str, username: str) -> str:
    """What to fix when Salesforce refuses a JWT bearer sign-in (the connected app's set-up)."""
    if "approved this consumer" in message:
        return (
            f"pre-authorise {username or 'the user'} for the connected app: Manage Connected Apps > Edit "
            "Policies > Admin approved users are pre-authorized, then add the user's profile or a "
            "permission set the user has"
        )
    if "invalid assertion" in message or "invalid_client" in message:
        return (
            "upload the certificate of salesforce.private-key-file to the connected app (Use digital "
            "signatures) and check salesforce.consumer-key"
        )
    return RECONNECT


def jwt_audience(login_url: str) -> str:
    """The `aud` claim Salesforce expects for a JWT bearer assertion sent to `login_url`.

    Production and My Domain logins use https://login.salesforce.com, sandboxes
    https://test.salesforce.com; any other server (an Experience Cloud site, the loopback
    sandbox) is its own audience.
    """
    host = (urlsplit(login_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host.endswith("salesforce.com"):
        return "https://login.salesforce.com"
    parts = urlsplit(login_url)
    return f"{parts.scheme}://{parts.netloc}"


def jwt_assertion(consumer_key: str, username: str, private_key: str, audience: str) -> str:
    """An RS256-signed JWT bearer assertion (iss = consumer key, sub = username)."""
    import jwt  # PyJWT comes with simple-salesforce

    claims = {
        "iss": consumer_key,
        "sub": username,
        "aud": audience,
        "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
    }
    return str(jwt.encode(claims, private_key, algorithm="RS256"))


class SignIn:
    """Gets and renews the access token for one profile, per `salesforce.auth`."""

    def __init__(
        self,
        config: SalesforceConfig,
        store: CredentialStore,
        http: requests.Session,
        timeout: float | tuple[float, float],
    ) -> None:
        if config.auth not in AUTH_MODES:
            raise FatalError(
                f"salesforce.auth is {config.auth!r}; use one of {', '.join(AUTH_MODES)}",
                code="SF-CONFIG",
                advice="`rgsync settings set salesforce.auth oauth` (or session, password, jwt)",
            )
        self.config = config
        self.store = store
        self.http = http
        self.timeout = timeout
        self.user_id = ""

    @property
    def can_renew(self) -> bool:
        """True when a new token can be had without the user (refresh token, key, password)."""
        if self.config.auth == "oauth":
            return bool(self.store.get(SECRET_REFRESH_TOKEN))
        return self.config.auth in ("password", "jwt")

    def current(self) -> Grant:
        """The stored token (no call), or a fresh sign-in when none is stored."""
        token = self.store.get(SECRET_SESSION)
        instance = self.store.get(SECRET_INSTANCE) or self.config.instance_url
        if self.config.auth == "session":
            instance = self.config.instance_url or instance
        if token and instance:
            return Grant(token, instance.rstrip("/"), self.user_id)
        if self.config.auth == "session":
            raise auth_error(
                "no Salesforce session id is stored"
                if not token
                else "salesforce.instance-url is not set (needed with a session id)"
            )
        return self.renew()

    def renew(self) -> Grant:
        """Sign in again (after 401 INVALID_SESSION_ID) and store the new token."""
        grant = self._sign_in()
        self.store.set(SECRET_SESSION, grant.access_token)
        if grant.instance_url:
            self.store.set(SECRET_INSTANCE, grant.instance_url)
        if grant.refresh_token:
            self.store.set(SECRET_REFRESH_TOKEN, grant.refresh_token)
        if grant.user_id:
            self.user_id = grant.user_id
        instance = grant.instance_url or self.config.instance_url or self.config.login_url
        return Grant(grant.access_token, instance, grant.user_id, grant.refresh_token)

    def _sign_in(self) -> Grant:
        mode = self.config.auth
        if mode == "session":
            raise auth_error("the Salesforce session expired or was revoked")
        if mode == "oauth":
            refresh = self.store.get(SECRET_REFRESH_TOKEN)
            if not refresh or not self.config.consumer_key:
                raise auth_error("rgsync has no Salesforce refresh token for this profile")
            form = {
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": self.config.consumer_key,
            }
            secret = self.store.get(SECRET_CONSUMER_SECRET)
            if secret:
                form["client_secret"] = secret
            return request_token(self.http, self.config.login_url, form, self.timeout)
        if mode == "jwt":
            return self._jwt()
        return self._password()

    def _jwt(self) -> Grant:
        config = self.config
        if not (config.consumer_key and config.username and config.private_key_file):
            raise auth_error(
                "JWT sign-in needs salesforce.consumer-key, salesforce.username and salesforce.private-key-file"
            )
        try:
            key = Path(config.private_key_file).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthError(
                f"cannot read the private key file {config.private_key_file}: {exc.strerror or exc}",
                code=AUTH_CODE,
                advice="check `salesforce.private-key-file`",
            ) from exc
        try:
            assertion = jwt_assertion(
                config.consumer_key, config.username, key, jwt_audience(config.login_url)
            )
        except (ValueError, TypeError) as exc:
            raise AuthError(
                f"the private key in {config.private_key_file} cannot sign a JWT: {exc}",
                code=AUTH_CODE,
                advice="`salesforce.private-key-file` must be the PEM private key of the connected app's certificate",
            ) from exc
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
        try:
            return request_token(self.http, config.login_url, form, self.timeout)
        except AuthError as exc:
            raise AuthError(
                exc.message, code=AUTH_CODE, advice=jwt_advice(exc.message, config.username)
            ) from exc

    def _password(self) -> Grant:
        config = self.config
        password = self.store.get(SECRET_PASSWORD)
        if not (config.username and password):
            raise auth_error("password sign-in needs salesforce.username and a stored password")
        token = self.store.get(SECRET_SECURITY_TOKEN) or ""
        if config.consumer_key:
            # OAuth username-password flow through the connected app.
            form = {
                "grant_type": "password",
                "client_id": config.consumer_key,
                "username": config.username,
                "password": password + token,
            }
            secret = self.store.get(SECRET_CONSUMER_SECRET)
            if secret:
                form["client_secret"] = secret
            return request_token(self.http, config.login_url, form, self.timeout)
        return self._soap_login(password, token)

    def _soap_login(self, password: str, token: str) -> Grant:
        """Username + password + security token without a connected app: the SOAP login() call."""
        from simple_salesforce.exceptions import SalesforceAuthenticationFailed
        from simple_salesforce.login import SalesforceLogin

        try:
            session_id, instance = SalesforceLogin(
                username=self.config.username,
                password=password,
                security_token=token,
                session=self.http,
                sf_version=self.config.api_version,
                scratch_url=self.config.login_url,
            )
        except SalesforceAuthenticationFailed as exc:
            raise auth_error(
                f"Salesforce refused the password sign-in ({exc.code}: {exc.auth_message})"
            ) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableError(f"cannot reach Salesforce at {self.config.login_url}") from exc
        return Grant(session_id, f"https://{instance}")


# --- the OAuth web-server flow with PKCE (`rgsync connect salesforce --auth oauth`) ---------------


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    return verifier, challenge


class _Callback:
    """The one redirect the browser brings back to the loopback listener."""

    def __init__(self) -> None:
        self.params: dict[str, str] = {}
        self.arrived = threading.Event()


def _listener(callback: _Callback, host: str, port: int) -> HTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep the terminal clean
            return

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != REDIRECT_PATH:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            callback.params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            ok = "code" in callback.params
            page = (
                "<h1>rgsync is connected to Salesforce</h1><p>You can close this window.</p>"
                if ok
                else "<h1>Salesforce sign-in did not finish</h1><p>Return to the terminal.</p>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            callback.arrived.set()

    return HTTPServer((host, port), Handler)


def web_sign_in(
    config: SalesforceConfig,
    http: requests.Session,
    *,
    open_url: Callable[[str], object],
    port: int = 1717,
    wait_seconds: float = 300.0,
    timeout: float | tuple[float, float] = (10.0, 60.0),
    consumer_secret: str = "",
) -> Grant:
    """Run the OAuth 2.0 web-server flow with PKCE and return the grant (with its refresh token).

    A listener on 127.0.0.1:`port` receives the redirect; `open_url` shows the authorize page to
    the user (a browser, or a test driving the emulator). The connected app's callback URL must
    be `http://127.0.0.1:<port>/oauth/callback`.
    """
    if not config.consumer_key:
        raise auth_error("the OAuth web flow needs the connected app's consumer key (--consumer-key)")
    if not 0 <= port <= 65535:
        raise FatalError(
            f"port {port} is not a TCP port",
            code="SF-AUTH",
            advice="pass a --port from 0 (any free port) to 65535 that matches the connected app's callback URL",
        )
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    callback = _Callback()
    try:
        server = _listener(callback, "127.0.0.1", port)
    except OSError as exc:
        raise FatalError(
            f"cannot listen on 127.0.0.1:{port} for the Salesforce redirect: {exc.strerror or exc}",
            code="SF-AUTH",
            advice="pass another --port that matches your connected app's callback URL",
        ) from exc
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}{REDIRECT_PATH}"
    thread = threading.Thread(target=server.serve_forever, name="oauth-redirect", daemon=True)
    thread.start()
    try:
        query = {
            "response_type": "code",
            "client_id": config.consumer_key,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            "scope": OAUTH_SCOPE,
        }
        if config.username:
            query["login_hint"] = config.username
        open_url(f"{config.login_url}/services/oauth2/authorize?{urlencode(query)}")
        if not callback.arrived.wait(wait_seconds):
            raise auth_error(f"no answer from the Salesforce sign-in page within {int(wait_seconds)} seconds")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    params = callback.params
    if params.get("state") != state:
        raise auth_error("the Salesforce redirect did not carry this sign-in's state; try again")
    if "code" not in params:
        reason = params.get("error_description") or params.get("error") or "no authorization code"
        raise auth_error(f"Salesforce did not authorize rgsync ({reason})")
    form = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "client_id": config.consumer_key,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    if consumer_secret:
        form["client_secret"] = consumer_secret
    return request_token(http, config.login_url, form, timeout)
