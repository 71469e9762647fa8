"""The org's OAuth 2.0 endpoints: `/services/oauth2/token`, `authorize`, `revoke`, `userinfo`, and
the identity URL `/id/{orgId}/{userId}`.

Grants: password (password + security token), refresh_token, JWT bearer (RS256 assertion
verified against the connected app's registered public key; iss/sub/aud/exp checked),
authorization_code with PKCE (S256 or plain), and client_credentials (the app's run-as user).
Error bodies are Salesforce's: `{"error": ..., "error_description": ...}` with HTTP 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rgsync.sandbox.http import Request, Response

if TYPE_CHECKING:
    from .store import Org

LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
CODE_LIFETIME = timedelta(minutes=15)


@dataclass
class ConnectedApp:
    """A connected app: consumer key/secret, the certificate's public key for the JWT flow,
    allowed callback URL prefixes, and the run-as user for client credentials."""

    client_id: str
    client_secret: str | None = None
    public_key: rsa.RSAPublicKey | None = None
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1", "http://localhost")
    run_as_user_id: str | None = None
    # "Admin approved users are pre-authorized": the users whose profile or permission set the
    # app is assigned to (None: the JWT flow is open to every active user, as before).
    preauthorized_user_ids: set[str] | None = None


@dataclass
class Login:
    """What the org knows about a user's password login."""

    user_id: str
    password: str
    security_token: str = ""


@dataclass
class Session:
    """An issued access token."""

    user_id: str
    client_id: str | None = None
    refresh_token: str | None = None


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str | None
    method: str
    user_id: str
    expires: datetime


@dataclass
class OAuthService:
    """Issues and checks tokens for one emulated org. `sessions` is shared with the REST API."""

    org: Org
    sessions: dict[str, Session]
    instance_url: str = ""
    apps: dict[str, ConnectedApp] = field(default_factory=dict)
    logins: dict[str, Login] = field(default_factory=dict)  # lower-cased Username → Login
    refresh_tokens: dict[str, Session] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)

    def register_app(self, app: ConnectedApp) -> ConnectedApp:
        """Make a connected app known to the token endpoint."""
        self.apps[app.client_id] = app
        return app

    def register_login(self, username: str, user_id: str, password: str, security_token: str = "") -> None:
        """Let `username` log in with `password` + `security_token` (the password grant)."""
        self.logins[username.lower()] = Login(user_id, password, security_token)

    def issue(
        self, user_id: str, *, client_id: str | None = None, with_refresh: bool = False
    ) -> tuple[str, str | None]:
        """A new access token (and refresh token when asked) for `user_id`."""
        access = f"00D!{secrets.token_urlsafe(24)}"
        refresh = f"5Aep{secrets.token_urlsafe(24)}" if with_refresh else None
        session = Session(user_id, client_id, refresh)
        self.sessions[access] = session
        if refresh is not None:
            self.refresh_tokens[refresh] = session
        return access, refresh

    def route_name(self, request: Request) -> str:
        """'oauth.token', 'oauth.authorize', 'oauth.revoke', 'oauth.userinfo' or 'oauth.identity'."""
        if request.path.startswith("/id/"):
            return "oauth.identity"
        leaf = request.path.rstrip("/").rsplit("/", 1)[-1]
        return f"oauth.{leaf}" if leaf in ("token", "authorize", "revoke", "userinfo") else "oauth.unknown"

    def handle(self, request: Request) -> Response:
        """Answer one OAuth request."""
        name = self.route_name(request)
        if name == "oauth.token":
            if request.method != "POST":
                return _oauth_error("invalid_request", "must use HTTP POST", status=400)
            return self._token(_form(request))
        if name == "oauth.authorize":
            return self._authorize(request)
        if name == "oauth.revoke":
            return self._revoke(_form(request))
        if name in ("oauth.userinfo", "oauth.identity"):
            return self._userinfo(request)
        return Response(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])

    # --- grants -------------------------------------------------------------------------------

    def _token(self, form: dict[str, str]) -> Response:
        grant = form.get("grant_type", "")
        if grant == "password":
            return self._password(form)
        if grant == "refresh_token":
            return self._refresh(form)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt(form)
        if grant == "authorization_code":
            return self._code(form)
        if grant == "client_credentials":
            return self._client_credentials(form)
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _client(self, form: dict[str, str], *, secret_required: bool) -> ConnectedApp | Response:
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        given = form.get("client_secret")
        checked = (secret_required or given is not None) and app.client_secret is not None
        if checked and not hmac.compare_digest(given or "", app.client_secret or ""):
            return _oauth_error("invalid_client", "invalid client credentials")
        return app

    def _password(self, form: dict[str, str]) -> Response:
        app = self._client(form, secret_required=True)
        if isinstance(app, Response):
            return app
        login = self.logins.get(form.get("username", "").lower())
        if login is None or not hmac.compare_digest(
            form.get("password", ""), login.password + login.security_token
        ):
            return _oauth_error("invalid_grant", "authentication failure")
        if not self._active(login.user_id):
            return _oauth_error("invalid_grant", "inactive user")
        access, _ = self.issue(login.user_id, client_id=app.client_id)
        return self._granted(access, None, login.user_id)

    def _refresh(self, form: dict[str, str]) -> Response:
        app = self._client(form, secret_required=False)
        if isinstance(app, Response):
            return app
        session = self.refresh_tokens.get(form.get("refresh_token", ""))
        if session is None or session.client_id != app.client_id:
            return _oauth_error("invalid_grant", "expired access/refresh token")
        access = f"00D!{secrets.token_urlsafe(24)}"
        self.sessions[access] = Session(session.user_id, app.client_id, session.refresh_token)
        return self._granted(access, None, session.user_id)

    def _jwt(self, form: dict[str, str]) -> Response:
        try:
            header, claims = _verify_jwt(form.get("assertion", ""), self.apps)
        except _JwtRefused as refused:
            return _oauth_error(refused.error, refused.description)
        del header
        app = self.apps[str(claims["iss"])]
        audiences = (*LOGIN_AUDIENCES, self.instance_url)
        if claims.get("aud") not in audiences:
            return _oauth_error("invalid_grant", "audience is invalid")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= self.org.clock().timestamp():
            return _oauth_error("invalid_grant", "expired authorization code")
        login = self.logins.get(str(claims.get("sub", "")).lower())
        if login is None or not self._active(login.user_id):
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        if app.preauthorized_user_ids is not None and login.user_id not in app.preauthorized_user_ids:
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        access, _ = self.issue(login.user_id, client_id=app.client_id)
        return self._granted(access, None, login.user_id)

    def _authorize(self, request: Request) -> Response:
        params = {k: v[0] for k, v in request.query.items()}
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        redirect = params.get("redirect_uri", "")
        if not any(redirect.startswith(prefix) for prefix in app.redirect_uris):
            return _oauth_error("redirect_uri_mismatch", "redirect_uri must match configuration")
        if params.get("response_type") != "code":
            return _redirect(redirect, {"error": "unsupported_response_type", "state": params.get("state")})
        hint = params.get("login_hint", "").lower()
        login = self.logins.get(hint) if hint else next(iter(self.logins.values()), None)
        if login is None:
            return _redirect(
                redirect,
                {
                    "error": "access_denied",
                    "error_description": "end-user denied authorization",
                    "state": params.get("state"),
                },
            )
        method = params.get("code_challenge_method", "S256" if params.get("code_challenge") else "plain")
        code = secrets.token_urlsafe(24)
        self.codes[code] = _Code(
            app.client_id,
            redirect,
            params.get("code_challenge"),
            method,
            login.user_id,
            self.org.clock() + CODE_LIFETIME,
        )
        return _redirect(redirect, {"code": code, "state": params.get("state")})

    def _code(self, form: dict[str, str]) -> Response:
        app = self._client(form, secret_required=False)
        if isinstance(app, Response):
            return app
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant.client_id != app.client_id or grant.expires <= self.org.clock():
            return _oauth_error("invalid_grant", "invalid authorization code")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("redirect_uri_mismatch", "redirect_uri must match configuration")
        if grant.challenge is not None:
            verifier = form.get("code_verifier", "")
            expected = _s256(verifier) if grant.method == "S256" else verifier
            if not verifier or not hmac.compare_digest(expected, grant.challenge):
                return _oauth_error("invalid_grant", "invalid code verifier")
        access, refresh = self.issue(grant.user_id, client_id=app.client_id, with_refresh=True)
        return self._granted(access, refresh, grant.user_id)

    def _client_credentials(self, form: dict[str, str]) -> Response:
        app = self._client(form, secret_required=True)
        if isinstance(app, Response):
            return app
        if app.client_secret is None or app.run_as_user_id is None:
            return _oauth_error("invalid_grant", "no client credentials user enabled")
        access, _ = self.issue(app.run_as_user_id, client_id=app.client_id)
        return self._granted(access, None, app.run_as_user_id)

    def _revoke(self, form: dict[str, str]) -> Response:
        token = form.get("token", "")
        if token in self.refresh_tokens:
            del self.refresh_tokens[token]
            for access in [a for a, s in self.sessions.items() if s.refresh_token == token]:
                del self.sessions[access]
            return Response(200, None)
        if token in self.sessions:
            del self.sessions[token]
            return Response(200, None)
        return _oauth_error("unsupported_token_type", "this token type is not supported")

    def _userinfo(self, request: Request) -> Response:
        token = request.header("authorization").removeprefix("Bearer ").strip()
        session = self.sessions.get(token)
        if session is None:
            return Response(403, "Bad_OAuth_Token", content_type="text/plain")
        user = self.org.get(session.user_id) or {}
        identity = self._identity_url(session.user_id)
        return Response(
            200,
            {
                "sub": identity,
                "user_id": session.user_id,
                "organization_id": self.org.org_id,
                "preferred_username": user.get("Username"),
                "nickname": user.get("Alias"),
                "name": user.get("Name"),
                "email": user.get("Email"),
                "email_verified": True,
                "given_name": user.get("FirstName"),
                "family_name": user.get("LastName"),
                "zoneinfo": user.get("TimeZoneSidKey") or "GMT",
                "active": bool(user.get("IsActive", True)),
                "user_type": "STANDARD",
                "language": "en_US",
                "locale": "en_US",
                "utcOffset": 0,
                "urls": {
                    "rest": f"{self.instance_url}/services/data/v{{version}}/",
                    "sobjects": f"{self.instance_url}/services/data/v{{version}}/sobjects/",
                    "query": f"{self.instance_url}/services/data/v{{version}}/query/",
                },
            },
        )

    # --- helpers ------------------------------------------------------------------------------

    def _active(self, user_id: str) -> bool:
        user = self.org.get(user_id)
        return bool(user and user.get("IsActive", True))

    def _identity_url(self, user_id: str) -> str:
        return f"{self.instance_url}/id/{self.org.org_id}/{user_id}"

    def _granted(self, access: str, refresh: str | None, user_id: str) -> Response:
        issued = str(int(self.org.clock().timestamp() * 1000))
        identity = self._identity_url(user_id)
        signature = base64.b64encode(
            hmac.new(b"sandbox", (identity + issued).encode(), hashlib.sha256).digest()
        ).decode()
        body: dict[str, Any] = {
            "access_token": access,
            "instance_url": self.instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": signature,
            "scope": "api refresh_token" if refresh else "api",
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        return Response(200, body)


class _JwtRefused(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _verify_jwt(assertion: str, apps: dict[str, ConnectedApp]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of an RS256 JWT whose `iss` is a known app and whose signature checks
    out against that app's public key (pyjwt does the checking).

    Expiry and audience are left to the caller: Salesforce compares `exp` with the org's clock,
    which in the sandbox is not the machine's."""
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _JwtRefused("invalid_grant", "invalid assertion") from None
    if header.get("alg") != "RS256":
        raise _JwtRefused("invalid_grant", "invalid assertion")
    app = apps.get(str(unverified.get("iss", "")))
    if app is None:
        raise _JwtRefused("invalid_client_id", "client identifier invalid")
    if app.public_key is None:
        raise _JwtRefused("invalid_grant", "invalid assertion")
    try:
        claims = jwt.decode(
            assertion,
            app.public_key,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        raise _JwtRefused("invalid_grant", "invalid assertion") from None
    return header, claims


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from a PEM public key or X.509 certificate (what a connected app stores)."""
    from cryptography import x509

    key: Any
    if b"CERTIFICATE" in pem:
        key = x509.load_pem_x509_certificate(pem).public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the JWT bearer flow needs an RSA key")
    return key


def _s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
        .rstrip(b"=")
        .decode("ascii")
    )


def _form(request: Request) -> dict[str, str]:
    values = {k: v[0] for k, v in request.query.items()}
    if request.body:
        values.update(
            {k: v[0] for k, v in parse_qs(request.body.decode("utf-8"), keep_blank_values=True).items()}
        )
    return values


def _oauth_error(error: str, description: str, *, status: int = 400) -> Response:
    return Response(status, {"error": error, "error_description": description})


def _redirect(uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if "?" in uri else "?"
    return Response(302, None, headers={"Location": f"{uri}{separator}{query}"})
