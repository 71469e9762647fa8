"""The tenant behind the sign-in emulator: its one user, the registered app, pending device-code
sign-ins, and every access and refresh token it hands out and later checks."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rgsync.sandbox.graph.common import GraphError

RESERVED_SCOPES = {"openid", "profile", "offline_access", "email"}


@dataclass
class AccessToken:
    """An access token the emulator issued: delegated (a user) or app-only."""

    kind: str  # delegated | app
    expires_at: datetime | None
    scopes: tuple[str, ...] = ()
    revoked: bool = False
    roles: tuple[str, ...] = ()  # app-only: the application permissions granted (the `roles` claim)


@dataclass
class DeviceCode:
    """A pending device-code sign-in."""

    device_code: str
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime
    status: str = "pending"  # pending | approved | declined | redeemed
    polls: int = 0


@dataclass
class Tenant:
    """The tenant, its one user, the registered app, and every token handed out."""

    address: str
    name: str
    clock: Callable[[], datetime]
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_secret: str = field(default_factory=lambda: "sbx~" + secrets.token_urlsafe(30))
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    token_lifetime: int = 3600
    device_interval: int = 5
    device_lifetime: int = 900
    auto_approve_after: int | None = 1
    certificate_public_pem: bytes | None = None
    # App-only access (client credentials): the application permissions an admin consented to,
    # the mailboxes an application access policy lets the app reach (None: every mailbox), and
    # the tenant's other users (address -> object id), whose mailboxes this emulator does not hold.
    app_roles: set[str] = field(
        default_factory=lambda: {
            "Mail.ReadWrite",
            "Calendars.ReadWrite",
            "Contacts.ReadWrite",
            "Tasks.ReadWrite.All",
        }
    )
    app_access_policy: set[str] | None = None
    other_users: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)
    device_codes: dict[str, DeviceCode] = field(default_factory=dict)
    sign_ins: list[str] = field(default_factory=list)

    @property
    def domain(self) -> str:
        """The tenant's domain: the part of the mailbox address after '@'."""
        return self.address.rpartition("@")[2].lower()

    # -- tokens Graph checks ---------------------------------------------------------------------
    def ready_token(self) -> str:
        """A delegated access token that never expires (for tests and scripts)."""
        token = access_token_of()
        self.tokens[token] = AccessToken("delegated", None, ("https://graph.microsoft.com/.default",))
        return token

    def check(self, authorization: str) -> AccessToken:
        """The token behind an `Authorization: Bearer …` header; Graph's 401 otherwise."""
        header = {
            "WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
        }
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", headers=header)
        info = self.tokens.get(token.strip())
        if info is None:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "IDX14100: JWT is not well formed, there are no dots (.).",
                headers=header,
            )
        if info.revoked:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokensRevoked",
                headers=header,
            )
        if info.expires_at is not None and self.clock() >= info.expires_at:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
                headers=header,
            )
        return info

    def expire_access_tokens(self) -> None:
        """Every access token handed out (ready ones too) has expired; refresh tokens still work."""
        past = self.clock() - timedelta(seconds=1)
        for info in self.tokens.values():
            info.expires_at = past

    def revoke_all(self) -> None:
        """The user's sessions are revoked: every access and refresh token stops working."""
        for info in self.tokens.values():
            info.revoked = True
        self.refresh_tokens.clear()

    def approve(self, user_code: str) -> bool:
        """The user signs in on the device-login page with this code; False when the code is unknown."""
        for code in self.device_codes.values():
            if code.user_code == user_code.strip().upper() and code.status == "pending":
                code.status = "approved"
                return True
        return False

    def decline(self, user_code: str) -> bool:
        """The user declines the sign-in on the device-login page."""
        for code in self.device_codes.values():
            if code.user_code == user_code.strip().upper() and code.status == "pending":
                code.status = "declined"
                return True
        return False

    # -- tokens the sign-in endpoints issue ------------------------------------------------------
    def _expiry(self) -> datetime:
        return self.clock() + timedelta(seconds=self.token_lifetime)

    def _delegated_tokens(self, scopes: tuple[str, ...], base: str) -> dict[str, Any]:
        granted = tuple(s for s in scopes if s.lower() not in RESERVED_SCOPES)
        token = access_token_of()
        self.tokens[token] = AccessToken("delegated", self._expiry(), granted)
        refresh = "1.AQ" + secrets.token_urlsafe(64)
        self.refresh_tokens[refresh] = scopes
        now = int(self.clock().timestamp())
        claims = {
            "aud": self.client_id,
            "iss": f"{base}/{self.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "name": self.name,
            "oid": self.user_id,
            "preferred_username": self.address,
            "sub": hashlib.sha256(self.user_id.encode()).hexdigest()[:43],
            "tid": self.tenant_id,
            "ver": "2.0",
        }
        return {
            "token_type": "Bearer",
            "scope": " ".join(granted),
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
            "refresh_token": refresh,
            "id_token": _unsigned_jwt(claims),
            "client_info": _b64(json.dumps({"uid": self.user_id, "utid": self.tenant_id}).encode()),
        }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unsigned_jwt(claims: Mapping[str, Any]) -> str:
    header = {"typ": "JWT", "alg": "RS256", "kid": "sandbox"}
    return ".".join(
        (_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(b"sandbox-signature"))
    )


def access_token_of() -> str:
    return "eyJ0eXAiOiJKV1QiLCJub25jZSI6" + secrets.token_urlsafe(48)
