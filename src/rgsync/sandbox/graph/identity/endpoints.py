"""The identity platform's sign-in endpoints for the tenant: OpenID discovery and instance
discovery, the device-code and token endpoints (device code, refresh token and client credentials
grants), the device-login page, and errors in the platform's AADSTS JSON."""

from __future__ import annotations

import html
import secrets
import string
import uuid
from collections.abc import Mapping
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import parse_qs

from rgsync.sandbox.graph.identity.tenant import (
    AccessToken,
    DeviceCode,
    Tenant,
    _unsigned_jwt,
)
from rgsync.sandbox.http import Request, Response

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class IdentityStore(Tenant):
    """The tenant answering the sign-in requests: what the Graph emulator's state holds."""

    # -- HTTP ------------------------------------------------------------------------------------
    def route_name(self, request: Request) -> str:
        """Counter names for the sign-in routes."""
        path = request.path
        if path.endswith("/.well-known/openid-configuration"):
            return "oauth.openid-configuration"
        if path.endswith("/discovery/instance"):
            return "oauth.instance-discovery"
        if path.endswith("/oauth2/v2.0/devicecode"):
            return "oauth.devicecode"
        if path.endswith("/oauth2/v2.0/token"):
            return "oauth.token"
        if path.rstrip("/") == "/devicelogin":
            return "oauth.devicelogin"
        return "oauth.unknown"

    def handle(self, request: Request, base: str) -> Response:
        """Answer a sign-in request."""
        parts = [p for p in request.path.split("/") if p]
        if request.path.rstrip("/") == "/devicelogin":
            return self._device_login(request)
        if len(parts) >= 3 and parts[0] == "common" and parts[1:] == ["discovery", "instance"]:
            tenant_path = request.param("authorization_endpoint", "") or ""
            tenant = tenant_path.split("/")[3] if tenant_path.count("/") >= 3 else "common"
            return Response(
                200,
                {
                    "tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration",
                    "api-version": "1.1",
                    "metadata": [
                        {
                            "preferred_network": base.split("//", 1)[1],
                            "preferred_cache": base.split("//", 1)[1],
                            "aliases": [base.split("//", 1)[1]],
                        }
                    ],
                },
            )
        if not parts:
            return self._error(404, "invalid_request", 900144, "The request is not understood.")
        tenant = parts[0]
        if not self._tenant_known(tenant):
            return self._error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
            )
        rest = "/".join(parts[1:])
        if rest == "v2.0/.well-known/openid-configuration" and request.method == "GET":
            return Response(200, self.openid_configuration(base, tenant))
        if rest == "oauth2/v2.0/devicecode" and request.method == "POST":
            return self._device_code(_form(request), base)
        if rest == "oauth2/v2.0/token" and request.method == "POST":
            return self._token(_form(request), base, tenant)
        return self._error(404, "invalid_request", 900144, f"The endpoint '{request.path}' does not exist.")

    def _tenant_known(self, tenant: str) -> bool:
        return tenant.lower() in {self.tenant_id, self.domain, "organizations", "common"}

    def openid_configuration(self, base: str, tenant: str) -> dict[str, Any]:
        """The OpenID Connect discovery document of the authority."""
        return {
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{self.tenant_id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "oid",
            ],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "msgraph_host": "graph.microsoft.com",
        }

    def _error(self, status: int, error: str, code: int, description: str) -> Response:
        now = self.clock().astimezone(UTC)
        trace = str(uuid.uuid4())
        return Response(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {uuid.uuid4()}\r\nTimestamp: {now:%Y-%m-%d %H:%M:%SZ}",
                "error_codes": [code],
                "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
                "trace_id": trace,
                "correlation_id": str(uuid.uuid4()),
            },
        )

    def _device_code(self, form: Mapping[str, str], base: str) -> Response:
        if form.get("client_id") != self.client_id:
            return self._error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory '{self.domain}'.",
            )
        scopes = tuple(form.get("scope", "").split())
        user_code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))
        code = DeviceCode(
            device_code="DAQABAAEAAAD" + secrets.token_urlsafe(48),
            user_code=user_code,
            client_id=self.client_id,
            scopes=scopes,
            expires_at=self.clock() + timedelta(seconds=self.device_lifetime),
        )
        self.device_codes[code.device_code] = code
        uri = f"{base}/devicelogin"
        return Response(
            200,
            {
                "user_code": user_code,
                "device_code": code.device_code,
                "verification_uri": uri,
                "expires_in": self.device_lifetime,
                "interval": self.device_interval,
                "message": f"To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate.",
            },
        )

    def _token(self, form: Mapping[str, str], base: str, tenant: str) -> Response:
        grant = form.get("grant_type", "")
        if form.get("client_id") != self.client_id:
            return self._error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory '{self.domain}'.",
            )
        if grant == DEVICE_GRANT:
            return self._redeem_device_code(form, base)
        if grant == "refresh_token":
            scopes = self.refresh_tokens.get(form.get("refresh_token", ""))
            if scopes is None:
                return self._error(
                    400,
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
                )
            requested = tuple(form.get("scope", "").split()) or scopes
            return Response(200, self._delegated_tokens(requested, base))
        if grant == "client_credentials":
            problem = self._client_authentication(form, base, tenant)
            if problem is not None:
                return problem
            scope = form.get("scope", "")
            if not scope.endswith("/.default"):
                return self._error(
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
                )
            roles = tuple(sorted(self.app_roles))
            now = int(self.clock().timestamp())
            token = _unsigned_jwt(
                {
                    "aud": "https://graph.microsoft.com",
                    "iss": f"https://sts.windows.net/{self.tenant_id}/",
                    "iat": now,
                    "nbf": now,
                    "exp": now + self.token_lifetime,
                    "appid": self.client_id,
                    "idtyp": "app",
                    "roles": list(roles),
                    "tid": self.tenant_id,
                    "uti": secrets.token_urlsafe(16),
                }
            )
            self.tokens[token] = AccessToken("app", self._expiry(), (scope,), roles=roles)
            self.sign_ins.append("client_credentials")
            return Response(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": self.token_lifetime,
                    "ext_expires_in": self.token_lifetime,
                    "access_token": token,
                },
            )
        return self._error(
            400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
        )

    def _client_authentication(self, form: Mapping[str, str], base: str, tenant: str) -> Response | None:
        if "client_secret" in form:
            if form["client_secret"] != self.client_secret:
                return self._error(
                    401,
                    "invalid_client",
                    7000215,
                    f"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{self.client_id}'.",
                )
            return None
        if form.get("client_assertion_type") == ASSERTION_TYPE and form.get("client_assertion"):
            if self.certificate_public_pem is None:
                return self._error(
                    401,
                    "invalid_client",
                    700027,
                    "Client assertion failed signature validation: no certificate is registered for the app.",
                )
            import jwt

            try:
                claims = jwt.decode(
                    form["client_assertion"],
                    self.certificate_public_pem,
                    algorithms=["RS256", "PS256"],
                    audience=f"{base}/{tenant}/oauth2/v2.0/token",
                    options={"require": ["exp", "aud", "iss", "sub"]},
                )
            except jwt.PyJWTError as exc:
                return self._error(
                    401,
                    "invalid_client",
                    700027,
                    f"Client assertion failed signature validation ({type(exc).__name__}).",
                )
            if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
                return self._error(
                    401,
                    "invalid_client",
                    700023,
                    "Client assertion audience or issuer claim does not match the app.",
                )
            return None
        return self._error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )

    def _redeem_device_code(self, form: Mapping[str, str], base: str) -> Response:
        code = self.device_codes.get(form.get("device_code", ""))
        if code is None or code.status == "redeemed":
            return self._error(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
        if self.clock() >= code.expires_at:
            return self._error(
                400,
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
            )
        code.polls += 1
        if (
            code.status == "pending"
            and self.auto_approve_after is not None
            and code.polls > self.auto_approve_after
        ):
            code.status = "approved"
        if code.status == "declined":
            return self._error(
                400, "authorization_declined", 70000, "The end-user declined the sign-in request."
            )
        if code.status == "pending":
            return self._error(
                400,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )
        code.status = "redeemed"
        self.sign_ins.append("device_code")
        return Response(200, self._delegated_tokens(code.scopes, base))

    def _device_login(self, request: Request) -> Response:
        form = _form(request) if request.method == "POST" else {}
        code = form.get("otc") or request.param("otc") or ""
        if code:
            decline = (form.get("decline") or request.param("decline") or "") not in ("", "0", "false")
            done = self.decline(code) if decline else self.approve(code)
            message = (
                (
                    "Sign-in declined."
                    if decline
                    else f"You have signed in as {html.escape(self.address)}. You can close this window."
                )
                if done
                else "That code is not valid or has expired."
            )
            return Response(
                200 if done else 400,
                f"<html><body><p>{message}</p></body></html>",
                content_type="text/html; charset=utf-8",
            )
        page = (
            "<html><body><h1>Enter code</h1><form method='post' action='/devicelogin'>"
            "<input name='otc' autofocus><button type='submit'>Next</button></form></body></html>"
        )
        return Response(200, page, content_type="text/html; charset=utf-8")


def _form(request: Request) -> dict[str, str]:
    parsed = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}
