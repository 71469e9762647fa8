"""Signing in to Google: installed-app OAuth, service accounts, or an access token given as is.

Where the Gmail sign-in comes from, first match wins:

1. `mailbox.service-account-file` set: a Google Workspace service account with domain-wide
   delegation acts as the mailbox address (the admin's way, no user consent screen).
2. The credential `gmail.access-token` in the profile's credentials store: a bearer token used as
   given, with no OAuth round trip and no refresh. This is how the sandbox signs in
   (`rgsync connect gmail --token-from-env VAR` stores it) and how a token minted elsewhere can
   be used; when it expires, Google answers 401 and the session reports MAIL-AUTH.
3. The credential `gmail.token`: the OAuth token of `rgsync connect gmail` (google-auth's
   authorized-user JSON with the refresh token). Access tokens are refreshed silently; a refreshed
   token is written back when the mailbox closes; a revoked one becomes MAIL-AUTH.

Scopes are the narrowest that do the job: gmail.modify (read mail, apply labels; no sending, no
permanent deletion), calendar.events, tasks and contacts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.auth.credentials import Credentials
from google.oauth2 import credentials as oauth_credentials
from google.oauth2 import service_account

from rgsync.credentials import CredentialsError, CredentialStore
from rgsync.providers.base import AuthError
from rgsync.providers.google.api import RECONNECT_ADVICE, GoogleApi

SCOPES: tuple[str, ...] = (
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/tasks",
    "https://www.googleapis.com/auth/contacts",
)
TOKEN = "gmail.token"
ACCESS_TOKEN = "gmail.access-token"
# Where Google sends the browser in the copy-and-paste sign-in: nothing listens there, the user
# copies the address the browser shows (it carries the code) back into the terminal.
MANUAL_REDIRECT = "http://localhost:1/"


def load_credentials(mailbox: Mapping[str, object], store: CredentialStore) -> Credentials:
    """The Gmail credentials of a profile (see the module docstring for the order); AuthError when none."""
    key_file = mailbox.get("service-account-file")
    address = str(mailbox.get("address") or "")
    if key_file:
        return service_account_credentials(Path(str(key_file)), address)
    try:
        access_token = store.get(ACCESS_TOKEN)
        token_json = store.get(TOKEN)
    except CredentialsError as exc:
        raise AuthError(str(exc), code="MAIL-AUTH", advice=RECONNECT_ADVICE) from exc
    if access_token:
        return oauth_credentials.Credentials(token=access_token)  # type: ignore[no-untyped-call]
    if token_json:
        try:
            info = json.loads(token_json)
            credentials: Credentials = oauth_credentials.Credentials.from_authorized_user_info(info)  # type: ignore[no-untyped-call]
            endpoint = mailbox.get("gmail-api-url")
            if endpoint:
                # google-auth always refreshes at Google's token endpoint (whatever the stored file
                # says, so a token file cannot redirect a refresh token). With the API pointed
                # elsewhere by the settings (the sandbox), the refresh goes to that same host.
                credentials = credentials.with_token_uri(str(endpoint).rstrip("/") + "/token")  # type: ignore[attr-defined]
            return credentials
        except (ValueError, TypeError) as exc:
            raise AuthError(
                "the stored Gmail sign-in is damaged", code="MAIL-AUTH", advice=RECONNECT_ADVICE
            ) from exc
    raise AuthError(
        f"the Gmail mailbox {address} is not connected yet"
        if address
        else "no Gmail mailbox is connected yet",
        code="MAIL-AUTH",
        advice=RECONNECT_ADVICE,
    )


def service_account_credentials(key_file: Path, address: str) -> Credentials:
    """Service-account credentials acting as `address` (domain-wide delegation)."""
    if not address:
        raise AuthError(
            "a service account needs the mailbox address to act as",
            code="MAIL-AUTH",
            advice="set it with `rgsync settings set mailbox.address you@example.com`",
        )
    try:
        return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call, no-any-return]
            str(key_file), scopes=list(SCOPES), subject=address
        )
    except FileNotFoundError as exc:
        raise AuthError(
            f"the service account key file {key_file} does not exist",
            code="MAIL-AUTH",
            advice="fix mailbox.service-account-file in your settings",
        ) from exc
    except (ValueError, KeyError, OSError) as exc:
        raise AuthError(
            f"the service account key file {key_file} is not a Google service account key ({exc})",
            code="MAIL-AUTH",
            advice="download a JSON key for the service account and point mailbox.service-account-file at it",
        ) from exc


def token_saver(store: CredentialStore) -> Callable[[GoogleApi], None]:
    """A close hook writing a refreshed OAuth token back to the store (only when it changed)."""

    def save(api: GoogleApi) -> None:
        credentials = api.credentials
        if not isinstance(credentials, oauth_credentials.Credentials) or not credentials.refresh_token:
            return
        try:
            stored = store.get(TOKEN)
            current = json.loads(stored) if stored else {}
            if current.get("token") != credentials.token:
                store.set(TOKEN, credentials.to_json())  # type: ignore[no-untyped-call]
        except (CredentialsError, ValueError):
            pass  # the old token still works until it expires; the next refresh tries again

    return save


def missing_scopes(granted: object) -> list[str]:
    """Which of rgsync's scopes a grant lacks (`granted`: a list or a space-separated string)."""
    if granted is None:
        return []
    have = set(granted.split()) if isinstance(granted, str) else {str(s) for s in granted}  # type: ignore[attr-defined]
    return [s for s in SCOPES if s not in have]


def sign_in(
    client_secrets_file: Path,
    *,
    open_browser: bool,
    ask: Callable[[str], str],
    tell: Callable[[str], None],
    flow_factory: Callable[..., Any] | None = None,
) -> oauth_credentials.Credentials:
    """Google's installed-app sign-in; returns credentials holding a refresh token.

    With `open_browser`, a loopback server receives Google's answer (google-auth-oauthlib's
    `run_local_server`). Without it (a headless machine), the user opens the printed address in any
    browser and pastes back the address the browser ends on, or just its `code`. Raises AuthError
    when the user refuses or the code is wrong.
    """
    from google_auth_oauthlib.flow import InstalledAppFlow

    # Google may grant fewer scopes than asked (granular consent); say so instead of crashing.
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    factory = flow_factory or InstalledAppFlow.from_client_secrets_file
    try:
        flow = factory(str(client_secrets_file), scopes=list(SCOPES))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise AuthError(
            f"{client_secrets_file} is not an OAuth client file of a desktop app ({exc})",
            code="MAIL-AUTH",
            advice="download the OAuth client (type Desktop app) from the Google Cloud console",
        ) from exc
    try:
        if open_browser:
            credentials = flow.run_local_server(
                port=0,
                open_browser=True,
                prompt="consent",
                authorization_prompt_message="Sign in to Google in your browser: {url}",
                success_message="rgsync is connected to Gmail. You can close this window.",
            )
        else:
            flow.redirect_uri = MANUAL_REDIRECT
            url, state = flow.authorization_url(prompt="consent")
            tell(
                "Open this address in a browser on any computer and allow access:\n"
                f"  {url}\n"
                "Your browser then fails to load a page on localhost: that is expected. "
                "Copy the address it shows."
            )
            code = _code_from(ask("Paste the address (or just the code)"), state)
            flow.fetch_token(code=code)
            credentials = flow.credentials
    except AuthError:
        raise
    except Exception as exc:  # oauthlib's many error classes all mean: no sign-in
        raise AuthError(f"Google sign-in failed: {exc}", code="MAIL-AUTH", advice=RECONNECT_ADVICE) from exc
    if not credentials.refresh_token:
        raise AuthError(
            "Google gave no refresh token, so rgsync could not sign in again later",
            code="MAIL-AUTH",
            advice="remove rgsync's access at https://myaccount.google.com/permissions and connect again",
        )
    return credentials  # type: ignore[no-any-return]


def _code_from(answer: str, state: str) -> str:
    answer = answer.strip()
    if not answer:
        raise AuthError("no code was pasted", code="MAIL-AUTH", advice=RECONNECT_ADVICE)
    if "://" not in answer and "code=" not in answer:
        return answer
    query = parse_qs(urlsplit(answer).query if "://" in answer else answer.lstrip("?"))
    if query.get("error"):
        raise AuthError(
            f"Google sign-in was refused: {query['error'][0]}", code="MAIL-AUTH", advice=RECONNECT_ADVICE
        )
    if query.get("state") and query["state"][0] != state:
        raise AuthError(
            "the pasted address belongs to another sign-in attempt", code="MAIL-AUTH", advice=RECONNECT_ADVICE
        )
    codes = query.get("code")
    if not codes:
        raise AuthError("the pasted address holds no code", code="MAIL-AUTH", advice=RECONNECT_ADVICE)
    return codes[0]
