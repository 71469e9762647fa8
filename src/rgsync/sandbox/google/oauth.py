"""Google's OAuth 2.0 token endpoint as the emulator serves it: `POST /token` with a refresh token.

It behaves as https://oauth2.googleapis.com/token does for an installed app
(https://developers.google.com/identity/protocols/oauth2/native-app#offline): a form-encoded
`grant_type=refresh_token&refresh_token=…&client_id=…&client_secret=…` gets
`{"access_token", "expires_in": 3599, "scope", "token_type": "Bearer"}`; an unknown, revoked or
expired refresh token gets 400 `{"error": "invalid_grant", "error_description": "Token has been
expired or revoked."}`; a wrong client gets 401 `invalid_client`.

Access tokens handed out here are accepted by every API route next to the emulator's ready token,
until `expire_access_tokens` (each then answers 401, as an expired token does) or `revoke` (the
refresh token stops working too, as when the user removes the app's access).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from rgsync.sandbox.http import Request, Response

TOKEN_PATH = "/token"
SCOPE = (
    "https://www.googleapis.com/auth/gmail.modify https://www.googleapis.com/auth/calendar.events "
    "https://www.googleapis.com/auth/tasks https://www.googleapis.com/auth/contacts"
)


@dataclass
class GoogleSignIn:
    """The installed app's client, the user's refresh token and the access tokens issued so far."""

    client_id: str = field(
        default_factory=lambda: f"{secrets.randbelow(10**12)}-sandbox.apps.googleusercontent.com"
    )
    client_secret: str = field(default_factory=lambda: "GOCSPX-" + secrets.token_urlsafe(18))
    refresh_token: str = field(default_factory=lambda: "1//sandbox-" + secrets.token_urlsafe(24))
    revoked: bool = False
    ready_expired: bool = False
    valid: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    refreshed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepts(self, token: str) -> bool | None:
        """True for a live issued token, False for an expired or revoked one, None when unknown."""
        with self.lock:
            if token in self.valid:
                return not self.revoked
            if token in self.expired:
                return False
        return None

    def expire_access_tokens(self) -> None:
        """Every access token issued so far (and the ready one, see the emulator) expires now."""
        with self.lock:
            self.ready_expired = True
            self.expired |= self.valid
            self.valid.clear()

    def revoke(self) -> None:
        """The user removed the app's access: its refresh token and access tokens stop working."""
        with self.lock:
            self.revoked = True
            self.ready_expired = True
            self.expired |= self.valid
            self.valid.clear()

    def token_endpoint(self, request: Request) -> Response:
        """Answer `POST /token` (refresh-token grant only: the one rgsync uses after connecting)."""
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items() if v}
        if form.get("grant_type") != "refresh_token":
            return _error(400, "unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type", ""))
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _error(401, "invalid_client", "The OAuth client was not found.")
        with self.lock:
            if self.revoked or form.get("refresh_token") != self.refresh_token:
                return _error(400, "invalid_grant", "Token has been expired or revoked.")
            token = "ya29.sandbox-" + secrets.token_urlsafe(24)
            self.valid.add(token)
            self.refreshed += 1
        body = {"access_token": token, "expires_in": 3599, "scope": SCOPE, "token_type": "Bearer"}
        return Response(
            200, body, headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"}
        )


def _error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description})
