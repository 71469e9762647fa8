"""The sign-in flow of `rgsync connect gmail` (SPEC §9), as a plain function.

Three ways in, one per kind of user:

* a person: Google's installed-app sign-in in the browser (`no_browser` on a headless machine
  prints the address to open elsewhere and reads the answer back), with an OAuth client file of
  type "Desktop app" (remembered as `mailbox.client-secrets-file`);
* a Google Workspace admin: a service account with domain-wide delegation (a key file and the
  address it acts as);
* a sandbox or a token minted elsewhere: an access token from an environment variable, used as is
  (no refresh).

The sign-in is checked with one Gmail call (users.getProfile), which also gives the mailbox
address. The result says what goes to the credentials store and what to `[mailbox]`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rgsync.errors import RgsyncError, UsageError
from rgsync.providers.base import AuthError, ProviderError
from rgsync.providers.descriptor import ConnectContext, ConnectResult, Option
from rgsync.providers.google.connection import GmailConnection


@dataclass(frozen=True)
class GmailConnectRequest:
    """What the user asked for (every field optional: the browser sign-in is the default)."""

    client_secrets: Path | None = None
    no_browser: bool = False
    service_account: Path | None = None
    address: str | None = None
    token_from_env: str | None = None
    api_url: str | None = None


OPTIONS = (
    Option(
        "--client-secrets",
        "client_secrets",
        "OAuth client file (type Desktop app) from the Google Cloud console; remembered for next time.",
        kind="file",
        exists=True,
    ),
    Option(
        "--no-browser",
        "no_browser",
        "Print the sign-in address and read the answer back (headless machines).",
        kind="flag",
    ),
    Option(
        "--service-account",
        "service_account",
        "Google Workspace: a service account key (JSON) with domain-wide delegation; needs --address.",
        kind="file",
        exists=True,
    ),
    Option(
        "--address", "address", "The mailbox address (required with --service-account; else Google says)."
    ),
    Option(
        "--token-from-env",
        "token_from_env",
        "Use the access token in environment variable VAR as is.",
        metavar="VAR",
    ),
    Option("--api-url", "api_url", "Google API root to use instead of Google's (a sandbox).", metavar="URL"),
)


def connect_gmail(
    request: GmailConnectRequest, current: GmailConnection, context: ConnectContext
) -> ConnectResult:
    """Sign in to Gmail / Google Workspace as asked and return what to store (SPEC §9)."""
    from google.oauth2.credentials import Credentials

    from rgsync.providers.google import auth
    from rgsync.providers.google.api import GoogleApi

    if sum(bool(x) for x in (request.client_secrets, request.service_account, request.token_from_env)) > 1:
        raise UsageError("give only one of --client-secrets, --service-account and --token-from-env")
    address = request.address
    endpoint = request.api_url or current.api_url or None
    secrets = context.secrets
    changes: dict[str, object] = {"provider": "gmail"}
    if request.api_url:
        changes["gmail-api-url"] = request.api_url
    lacking: list[str] = []
    credentials: Any
    try:
        if request.service_account:
            if not address:
                raise UsageError("--service-account needs --address: the mailbox the service account acts as")
            credentials = auth.service_account_credentials(request.service_account.absolute(), address)
            changes["service-account-file"] = str(request.service_account.absolute())
        elif request.token_from_env:
            token = os.environ.get(request.token_from_env, "").strip()
            if not token:
                raise UsageError(f"the environment variable {request.token_from_env} is not set or empty")
            credentials = Credentials(token=token)  # type: ignore[no-untyped-call]
            changes["service-account-file"] = None
        else:
            secrets_file = request.client_secrets or (
                Path(current.client_secrets_file) if current.client_secrets_file else None
            )
            if secrets_file is None:
                raise UsageError(
                    "give --client-secrets FILE: an OAuth client of type Desktop app from the Google Cloud "
                    "console (APIs & Services › Credentials), with the Gmail, Calendar, Tasks and People APIs enabled"
                )
            ask = context.interaction
            credentials = auth.sign_in(
                secrets_file, open_browser=not request.no_browser, ask=ask.ask, tell=ask.tell
            )
            lacking = auth.missing_scopes(getattr(credentials, "granted_scopes", None))
            changes["client-secrets-file"] = str(secrets_file.absolute())
            changes["service-account-file"] = None
        api = GoogleApi(lambda: credentials, endpoint=endpoint)
        profile = api.execute(api.service("gmail").users().getProfile(userId="me"), "the Gmail profile")
    except AuthError as exc:
        raise RgsyncError(f"{exc.message}; {exc.advice}" if exc.advice else exc.message) from exc
    except ProviderError as exc:
        raise RgsyncError(f"could not reach Gmail: {exc.message}") from exc
    mailbox_address = str(profile.get("emailAddress") or address or "").lower()
    if address and mailbox_address and mailbox_address != address.lower() and not request.service_account:
        raise RgsyncError(
            f"signed in as {mailbox_address}, not {address}: sign in with the right Google account"
        )
    changes["address"] = mailbox_address
    if request.token_from_env:
        secrets.set(auth.ACCESS_TOKEN, str(credentials.token))
        secrets.delete(auth.TOKEN)
    else:
        # An access token stored for a sandbox would take precedence over the new sign-in.
        secrets.delete(auth.ACCESS_TOKEN)
        if not request.service_account:
            secrets.set(auth.TOKEN, credentials.to_json())
    warnings = []
    if lacking:
        names = ", ".join(s.rsplit("/", 1)[-1] for s in lacking)
        warnings.append(
            f"Google did not grant: {names}. Those streams will fail; run `rgsync connect gmail` "
            "again and allow every permission."
        )
    return ConnectResult(
        section="mailbox",
        settings=changes,
        secrets=dict(secrets.changes),
        report={
            "provider": "gmail",
            "address": mailbox_address,
            "credentials": secrets.backend_name,
            "missing_scopes": lacking,
        },
        lines=(f"Connected to Gmail as {mailbox_address}; the sign-in is kept in {secrets.backend_name}.",),
        warnings=tuple(warnings),
    )
