"""`rgsync connect exchange`: sign in to an Exchange on-premises mailbox over EWS (SPEC §9).

Asks for the password (or, with `--auth-type oauth`, an access token), checks it by reading the
mailbox's folders through EWS, then keeps the secret in the credentials store and the connection
details (provider, address, EWS URL, sign-in name and type, impersonation, CA file) in `[mailbox]`.
Without `--ews-url` the endpoint is looked up with Autodiscover.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rgsync.cli.common import App, json_option, pass_app
from rgsync.errors import RgsyncError, UsageError


@click.command("exchange")
@click.option("--address", help="The mailbox address (default: the one in the settings).")
@click.option(
    "--ews-url", metavar="URL", help="The EWS endpoint, https://mail.example.com/EWS/Exchange.asmx."
)
@click.option("--username", help="Sign-in name, e.g. EXAMPLE\\you or you@example.com (default: the address).")
@click.option(
    "--auth-type",
    type=click.Choice(["ntlm", "basic", "oauth"]),
    help="How to sign in (default: the setting, else ntlm).",
)
@click.option(
    "--impersonate/--no-impersonate",
    default=None,
    help="Admins: sign in as a service account that impersonates the mailbox.",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra CA certificates to trust.",
)
@json_option
@pass_app
def exchange_command(
    app: App,
    address: str | None,
    ews_url: str | None,
    username: str | None,
    auth_type: str | None,
    impersonate: bool | None,
    ca_file: Path | None,
) -> None:
    """Sign in to Exchange (2016, 2019, Subscription Edition) over EWS and remember the mailbox."""
    from rgsync.credentials import CredentialStore
    from rgsync.providers.base import ProviderError
    from rgsync.providers.exchange.connection import ConnectionSettings
    from rgsync.providers.exchange.doctor import probe, secret_name
    from rgsync.settings import load_settings, write_connection

    paths = app.paths
    settings = load_settings(paths.settings_file, paths.org_policy_file)
    current = settings.mailbox if settings.mailbox.get("provider") == "exchange" else {}
    address = (address or str(current.get("address") or "")).strip().lower()
    if not address or "@" not in address:
        raise UsageError("give the mailbox address: rgsync connect exchange --address you@example.com")
    auth = (auth_type or str(current.get("auth-type") or "ntlm")).lower()
    user = username or str(current.get("username") or "") or address
    impersonating = bool(current.get("impersonate")) if impersonate is None else impersonate
    ca = (
        str(ca_file.expanduser().absolute())
        if ca_file
        else (str(current["ca-file"]) if current.get("ca-file") else None)
    )
    prompt = "Access token" if auth == "oauth" else f"Password for {user}"
    secret = click.prompt(prompt, hide_input=True)
    endpoint = ews_url or str(current.get("ews-url") or "") or _autodiscover(address, user, secret, auth)
    if not endpoint.startswith(("https://", "http://")):
        raise UsageError(f"--ews-url must be an http(s):// URL, not {endpoint!r}")
    details = ConnectionSettings(
        address=address,
        ews_url=endpoint,
        username=user,
        secret=secret,
        auth_type=auth,
        impersonate=impersonating,
        time_zone=str(settings.mailbox.get("time-zone") or "UTC"),
        ca_file=ca,
    )
    try:
        found = probe(details)
    except ProviderError as exc:
        raise RgsyncError(
            f"could not connect to Exchange at {endpoint}: {exc.message}"
            + (f" ({exc.advice})" if exc.advice and "rgsync connect" not in exc.advice else "")
        ) from exc
    store = CredentialStore(paths.profile, paths.credentials_file)
    store.set(secret_name(auth), secret)
    values: dict[str, Any] = {
        "provider": "exchange",
        "address": address,
        "ews-url": endpoint,
        "username": user if user != address else None,
        "auth-type": auth,
        "impersonate": impersonating,
        "ca-file": ca,
    }
    write_connection(paths.settings_file, "mailbox", values)
    result = {
        "connected": True,
        "address": address,
        "ews_url": endpoint,
        "auth_type": auth,
        "missing_folders": found["missing"],
    }
    if app.json:
        app.emit_json(result)
        return
    app.say(f"Connected to Exchange at {endpoint} as {user} for {address}.")
    if found["missing"]:
        app.say(f"Warning: these folders cannot be opened: {', '.join(found['missing'])}.")
    app.say(
        f"The {'token' if auth == 'oauth' else 'password'} is kept in {store.backend_name}; connection details in {paths.settings_file}."
    )


def _autodiscover(address: str, username: str, secret: str, auth: str) -> str:
    """The EWS endpoint of a mailbox found with Autodiscover; a one-line error when it cannot be."""
    from exchangelib import Account, Credentials

    if auth == "oauth":
        raise UsageError(
            "with --auth-type oauth give the endpoint: --ews-url https://mail.example.com/EWS/Exchange.asmx"
        )
    try:
        account = Account(address, credentials=Credentials(username, secret), autodiscover=True)
        return str(account.protocol.service_endpoint)
    except Exception as exc:  # Autodiscover fails in many ways (DNS, TLS, redirects): one line for all
        raise UsageError(
            f"could not find the EWS endpoint of {address} with Autodiscover ({type(exc).__name__}); "
            "give it with --ews-url https://mail.example.com/EWS/Exchange.asmx"
        ) from exc
