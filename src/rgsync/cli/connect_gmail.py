"""`rgsync connect gmail`: sign in to Google and remember the mailbox (SPEC §9).

Three ways in, one per kind of user:

* a person: Google's installed-app sign-in in the browser (`--no-browser` on a headless machine
  prints the address to open elsewhere and reads the answer back), with an OAuth client file of
  type "Desktop app" (`--client-secrets`, remembered as `mailbox.client-secrets-file`);
* a Google Workspace admin: a service account with domain-wide delegation (`--service-account
  KEY.json --address user@example.com`);
* a sandbox or a token minted elsewhere: `--token-from-env VAR` stores the access token found in
  the environment variable VAR, used as is (no refresh).

The sign-in is checked with one Gmail call (users.getProfile), which also gives the mailbox
address. Secrets go to the credentials store (OS keyring or a 0600 file), the rest to `[mailbox]`.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from rgsync.cli.common import App, json_option, pass_app
from rgsync.credentials import CredentialStore
from rgsync.errors import RgsyncError, UsageError
from rgsync.providers.base import AuthError, ProviderError
from rgsync.settings import load_settings, write_connection


@click.command("gmail")
@click.option(
    "--client-secrets",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="OAuth client file (type Desktop app) from the Google Cloud console; remembered for next time.",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Print the sign-in address and read the answer back (headless machines).",
)
@click.option(
    "--service-account",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Google Workspace: a service account key (JSON) with domain-wide delegation; needs --address.",
)
@click.option("--address", help="The mailbox address (required with --service-account; else Google says).")
@click.option(
    "--token-from-env", metavar="VAR", help="Use the access token in environment variable VAR as is."
)
@click.option("--api-url", metavar="URL", help="Google API root to use instead of Google's (a sandbox).")
@json_option
@pass_app
def gmail_command(
    app: App,
    client_secrets: Path | None,
    no_browser: bool,
    service_account: Path | None,
    address: str | None,
    token_from_env: str | None,
    api_url: str | None,
) -> None:
    """Sign in to Gmail / Google Workspace and remember the mailbox."""
    from google.oauth2.credentials import Credentials

    from rgsync.providers.google.api import GoogleApi
    from rgsync.providers.google.auth import (
        ACCESS_TOKEN,
        TOKEN,
        missing_scopes,
        service_account_credentials,
        sign_in,
    )

    if sum(bool(x) for x in (client_secrets, service_account, token_from_env)) > 1:
        raise UsageError("give only one of --client-secrets, --service-account and --token-from-env")
    paths = app.paths
    settings = load_settings(paths.settings_file, paths.org_policy_file)
    current = settings.mailbox
    endpoint = api_url or (str(current["gmail-api-url"]) if current.get("gmail-api-url") else None)
    store = CredentialStore(paths.profile, paths.credentials_file)
    changes: dict[str, object] = {"provider": "gmail"}
    if api_url:
        changes["gmail-api-url"] = api_url
    lacking: list[str] = []
    try:
        if service_account:
            if not address:
                raise UsageError("--service-account needs --address: the mailbox the service account acts as")
            credentials = service_account_credentials(service_account.absolute(), address)
            changes["service-account-file"] = str(service_account.absolute())
        elif token_from_env:
            token = os.environ.get(token_from_env, "").strip()
            if not token:
                raise UsageError(f"the environment variable {token_from_env} is not set or empty")
            credentials = Credentials(token=token)  # type: ignore[no-untyped-call]
            changes["service-account-file"] = None
        else:
            secrets_file = client_secrets or (
                Path(str(current["client-secrets-file"])) if current.get("client-secrets-file") else None
            )
            if secrets_file is None:
                raise UsageError(
                    "give --client-secrets FILE: an OAuth client of type Desktop app from the Google Cloud "
                    "console (APIs & Services › Credentials), with the Gmail, Calendar, Tasks and People APIs enabled"
                )
            credentials = sign_in(
                secrets_file,
                open_browser=not no_browser,
                ask=lambda prompt: click.prompt(prompt, err=True),
                tell=lambda text: click.echo(text, err=True),
            )
            lacking = missing_scopes(getattr(credentials, "granted_scopes", None))
            changes["client-secrets-file"] = str(secrets_file.absolute())
            changes["service-account-file"] = None
        api = GoogleApi(lambda: credentials, endpoint=endpoint)
        profile = api.execute(api.service("gmail").users().getProfile(userId="me"), "the Gmail profile")
    except AuthError as exc:
        raise RgsyncError(f"{exc.message}; {exc.advice}" if exc.advice else exc.message) from exc
    except ProviderError as exc:
        raise RgsyncError(f"could not reach Gmail: {exc.message}") from exc
    mailbox_address = str(profile.get("emailAddress") or address or "").lower()
    if address and mailbox_address and mailbox_address != address.lower() and not service_account:
        raise RgsyncError(
            f"signed in as {mailbox_address}, not {address}: sign in with the right Google account"
        )
    changes["address"] = mailbox_address
    if token_from_env:
        store.set(ACCESS_TOKEN, str(credentials.token))
        store.delete(TOKEN)
    else:
        # An access token stored for a sandbox would take precedence over the new sign-in.
        store.delete(ACCESS_TOKEN)
        if not service_account:
            store.set(TOKEN, credentials.to_json())  # type: ignore[attr-defined]
    write_connection(paths.settings_file, "mailbox", changes)
    if app.json:
        app.emit_json(
            {
                "provider": "gmail",
                "address": mailbox_address,
                "credentials": store.backend_name,
                "missing_scopes": lacking,
            }
        )
        return
    app.say(f"Connected to Gmail as {mailbox_address}; the sign-in is kept in {store.backend_name}.")
    if lacking:
        names = ", ".join(s.rsplit("/", 1)[-1] for s in lacking)
        app.err.print(
            f"[yellow]Google did not grant: {names}. Those streams will fail; run `rgsync connect gmail` "
            "again and allow every permission.[/yellow]",
            highlight=False,
        )
