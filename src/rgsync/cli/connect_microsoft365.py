"""`rgsync connect microsoft365`: sign in to Microsoft 365 and remember the mailbox (SPEC §9).

Two ways in:

* a person (default): msal's device-code flow. rgsync prints where to go and which code to enter
  (on any device), waits until the sign-in is done, and keeps msal's token cache in the credentials
  store; later runs refresh it silently, so cron never asks anyone;
* an admin running many mailboxes (`--app-only --address user@example.com`): the app's own
  credentials (client credentials) with a client secret (asked for, or read from an environment
  variable) or a certificate, acting on that mailbox.

Either way the sign-in is checked with one Graph call (the mailbox owner), and the connection
details go to `[mailbox]` (provider, address, client-id, tenant-id, endpoints, ca-file); secrets
stay in the credentials store.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rgsync.cli.common import App, json_option, pass_app
from rgsync.errors import RgsyncError, UsageError

# How the device-code polling waits; tests replace it so they never sleep.
SLEEP: Callable[[float], None] = time.sleep


@click.command("microsoft365")
@click.option(
    "--client-id", metavar="ID", help="Application (client) id of your Microsoft Entra app registration."
)
@click.option(
    "--tenant-id", metavar="TENANT", help="Directory (tenant) id or domain (default: organizations)."
)
@click.option("--address", help="The mailbox address (required with --app-only; else the signed-in user's).")
@click.option(
    "--app-only", is_flag=True, help="Admins: sign in as the app (client credentials), not as a user."
)
@click.option(
    "--client-secret-from-env",
    metavar="VAR",
    help="--app-only: read the client secret from environment variable VAR.",
)
@click.option(
    "--certificate",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="--app-only: a PEM file with the app certificate's private key (use with --thumbprint).",
)
@click.option(
    "--thumbprint",
    metavar="HEX",
    help="--app-only: the certificate's SHA-1 thumbprint as registered for the app.",
)
@click.option(
    "--authority-url", metavar="URL", help="Sign-in authority to use instead of login.microsoftonline.com."
)
@click.option(
    "--graph-url",
    metavar="URL",
    help="Graph root to use instead of https://graph.microsoft.com/v1.0 (a sandbox).",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra CA certificates to trust.",
)
@json_option
@pass_app
def microsoft365_command(
    app: App,
    client_id: str | None,
    tenant_id: str | None,
    address: str | None,
    app_only: bool,
    client_secret_from_env: str | None,
    certificate: Path | None,
    thumbprint: str | None,
    authority_url: str | None,
    graph_url: str | None,
    ca_file: Path | None,
) -> None:
    """Sign in to Microsoft 365 (device code, or app-only for admins) and remember the mailbox."""
    from rgsync.credentials import CredentialStore
    from rgsync.providers.base import ProviderError
    from rgsync.providers.microsoft365 import sign_in_config
    from rgsync.providers.microsoft365.auth import (
        CLIENT_CERTIFICATE,
        CLIENT_SECRET,
        TOKEN_CACHE,
        AppTokens,
        DelegatedTokens,
        http_session,
        start_device_sign_in,
    )
    from rgsync.providers.microsoft365.client import DEFAULT_GRAPH_URL, GraphClient
    from rgsync.settings import load_settings, write_connection

    if not app_only and (client_secret_from_env or certificate or thumbprint):
        raise UsageError("--client-secret-from-env, --certificate and --thumbprint go with --app-only")
    if app_only and not address:
        raise UsageError("--app-only needs --address: the mailbox the app acts on")
    if bool(certificate) != bool(thumbprint):
        raise UsageError("--certificate and --thumbprint go together")
    for name, url in (("--authority-url", authority_url), ("--graph-url", graph_url)):
        if url and not url.startswith("https://"):
            raise UsageError(f"{name} must be an https:// URL, not {url!r}")
    paths = app.paths
    settings = load_settings(paths.settings_file, paths.org_policy_file)
    table: dict[str, Any] = (
        dict(settings.mailbox) if settings.mailbox.get("provider") == "microsoft365" else {}
    )
    overrides = {
        "client-id": client_id,
        "tenant-id": tenant_id,
        "authority-url": authority_url,
        "graph-url": graph_url,
        "ca-file": str(ca_file.absolute()) if ca_file else None,
    }
    table.update({k: v for k, v in overrides.items() if v})
    config = sign_in_config(table)
    store = CredentialStore(paths.profile, paths.credentials_file)
    root = str(table.get("graph-url") or DEFAULT_GRAPH_URL)
    try:
        if app_only:
            credential: str | dict[str, str]
            if certificate:
                credential = {
                    "private_key": certificate.read_text(encoding="utf-8"),
                    "thumbprint": str(thumbprint),
                }
            elif client_secret_from_env:
                credential = os.environ.get(client_secret_from_env, "").strip()
                if not credential:
                    raise UsageError(f"the environment variable {client_secret_from_env} is not set or empty")
            else:
                credential = click.prompt("Client secret", hide_input=True, err=True).strip()
            tokens: Any = AppTokens(config, credential, http_session(config.ca_file))
            prefix = GraphClient.user_prefix(str(address))
        else:
            started = start_device_sign_in(config, store, http_session(config.ca_file))
            app.err.print(started.message, highlight=False, soft_wrap=True)
            username = started.wait(sleep=SLEEP)
            tokens = DelegatedTokens(config, store, http_session(config.ca_file), address=address or username)
            prefix = "/me"
        client = GraphClient(http_session(config.ca_file), tokens, graph_url=root, prefix=prefix)
        owner = client.call("GET", prefix, what="the mailbox owner") or {}
        client.session.close()
    except ProviderError as exc:
        raise RgsyncError(
            f"could not connect to Microsoft 365: {exc.message}" + (f" ({exc.advice})" if exc.advice else "")
        ) from exc
    mailbox_address = str(owner.get("mail") or owner.get("userPrincipalName") or address or "").lower()
    if address and mailbox_address != address.lower() and not app_only:
        raise RgsyncError(
            f"signed in as {mailbox_address}, not {address}: sign in with the right Microsoft account"
        )
    if app_only:
        if certificate:
            store.set(CLIENT_CERTIFICATE, json.dumps(credential))
            store.delete(CLIENT_SECRET)
        else:
            store.set(CLIENT_SECRET, str(credential))
            store.delete(CLIENT_CERTIFICATE)
        store.delete(TOKEN_CACHE)
    else:
        # A stored app credential would take precedence over the user's sign-in.
        store.delete(CLIENT_SECRET)
        store.delete(CLIENT_CERTIFICATE)
    changes: dict[str, object] = {"provider": "microsoft365", "address": mailbox_address}
    changes.update({k: v for k, v in overrides.items() if v})
    write_connection(paths.settings_file, "mailbox", changes)
    mode = "app-only" if app_only else "user"
    if app.json:
        app.emit_json(
            {
                "provider": "microsoft365",
                "address": mailbox_address,
                "sign_in": mode,
                "credentials": store.backend_name,
            }
        )
        return
    how = "as the app (client credentials)" if app_only else "with your sign-in (refreshed silently)"
    app.say(
        f"Connected to Microsoft 365 mailbox {mailbox_address} {how}; secrets are kept in {store.backend_name}."
    )
