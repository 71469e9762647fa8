"""A Google Workspace domain's service accounts with domain-wide delegation, as the token endpoint
sees them: `POST /token` with the JWT-bearer grant.

A service account signs a JWT (RS256, its own private key) with `iss` = its client email, `scope`
= the scopes it asks for, `aud` = the token endpoint, and `sub` = the user it acts as, and posts it
as `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`
(https://developers.google.com/identity/protocols/oauth2/service-account#httprest). The endpoint
answers as Google's does:

* a signature that the account's registered public key does not verify, an unknown account, an
  expired or over-long assertion: 400 `invalid_grant` ("Invalid JWT Signature.", …);
* a `sub` that is no mailbox of the domain: 400 `invalid_grant` "Invalid email or User ID";
* a scope the Workspace admin has not authorised for the account's client ID (Admin console,
  Security > API controls > Domain-wide delegation), or no delegation at all: 401
  `unauthorized_client` "Client is unauthorized to retrieve access tokens using this method, or
  client not authorized for any of the scopes requested.";
* otherwise an access token for that user's mailbox, valid for an hour.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rgsync.sandbox.http import Request, Response

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_ASSERTION_SECONDS = 3600
UNAUTHORIZED = (
    "Client is unauthorized to retrieve access tokens using this method, or client not authorized "
    "for any of the scopes requested."
)


class _Mailbox(Protocol):
    """What the directory needs of a mailbox's emulator: its sign-in, which accepts issued tokens."""

    @property
    def sign_in(self) -> Any: ...


@dataclass
class ServiceAccount:
    """A service account: its key pair and the scopes delegated to its client ID (empty: none)."""

    client_email: str
    client_id: str
    private_key_pem: str
    public_key_pem: bytes
    key_id: str
    delegated_scopes: set[str] = field(default_factory=set)

    def key_file(self, token_uri: str, project_id: str = "sandbox-project") -> dict[str, str]:
        """The JSON key Google's console lets you download for this account."""
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": self.key_id,
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        }


class WorkspaceDirectory:
    """The domain(s), their mailboxes, and the service accounts with domain-wide delegation."""

    def __init__(self, domains: tuple[str, ...] = ()) -> None:
        self.domains = {d.lower() for d in domains}
        self.mailboxes: dict[str, _Mailbox] = {}
        self.accounts: dict[str, ServiceAccount] = {}
        self.issued: list[tuple[str, str]] = []  # (client email, subject) of each token handed out
        self.lock = threading.Lock()

    def add_mailbox(self, address: str, emulator: _Mailbox) -> None:
        """A user of the domain whose mailbox `emulator` serves."""
        address = address.lower()
        self.domains.add(address.rpartition("@")[2])
        self.mailboxes[address] = emulator

    def create_service_account(self, name: str, scopes: tuple[str, ...] | list[str] = ()) -> ServiceAccount:
        """A new service account `name@sandbox-project.iam.gserviceaccount.com` with a fresh RSA key;
        `scopes` are the ones the admin authorises for its client ID (domain-wide delegation)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        account = ServiceAccount(
            client_email=f"{name}@sandbox-project.iam.gserviceaccount.com",
            client_id=str(10**20 + secrets.randbelow(10**20)),
            private_key_pem=private_pem,
            public_key_pem=public_pem,
            key_id=secrets.token_hex(20),
            delegated_scopes=set(scopes),
        )
        self.accounts[account.client_email] = account
        return account

    @staticmethod
    def is_jwt_grant(request: Request) -> bool:
        """Whether a token request uses the JWT-bearer grant (the ones this directory answers)."""
        form = parse_qs(request.body.decode("utf-8", "replace"))
        return (form.get("grant_type") or [""])[0] == JWT_BEARER

    def token_endpoint(self, request: Request) -> Response:
        """Answer `POST /token` with the JWT-bearer grant (see the module docstring)."""
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items() if v}
        if form.get("grant_type") != JWT_BEARER:
            return _error(400, "unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type", ""))
        assertion = form.get("assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _error(400, "invalid_request", "Invalid JWT: assertion could not be parsed.")
        account = self.accounts.get(str(unverified.get("iss", "")))
        if account is None:
            return _error(400, "invalid_grant", "Invalid grant: account not found")
        try:
            claims = jwt.decode(
                assertion,
                account.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iss", "aud", "exp", "iat"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            return _error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
                "Check your iat and exp values in the JWT claim.",
            )
        except jwt.PyJWTError:
            return _error(400, "invalid_grant", "Invalid JWT Signature.")
        if not str(claims.get("aud", "")).endswith("/token"):
            return _error(400, "invalid_grant", "Invalid JWT: audience is not the token endpoint.")
        if (
            int(claims["exp"]) - int(claims["iat"]) > MAX_ASSERTION_SECONDS
            or int(claims["iat"]) > time.time() + 300
        ):
            return _error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
                "Check your iat and exp values in the JWT claim.",
            )
        scopes = str(claims.get("scope", "")).split()
        subject = str(claims.get("sub", "")).lower()
        if not scopes:
            return _error(400, "invalid_scope", "Empty or missing scope not allowed.")
        mailbox = self.mailboxes.get(subject) if subject else None
        if subject and mailbox is None:
            return _error(400, "invalid_grant", "Invalid email or User ID")
        if subject and not set(scopes) <= account.delegated_scopes:
            return _error(401, "unauthorized_client", UNAUTHORIZED)
        token = "ya29.c.sandbox-" + secrets.token_urlsafe(24)
        if mailbox is not None:
            sign_in = mailbox.sign_in
            with sign_in.lock:
                sign_in.valid.add(token)
        with self.lock:
            self.issued.append((account.client_email, subject))
        body = {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        return Response(
            200, body, headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"}
        )


def _error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description})
