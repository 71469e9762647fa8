"""`rgsync connect …`: sign in to an account and keep its secrets in the credentials store (SPEC §9).

`rgsync connect salesforce` runs the chosen Salesforce sign-in: a pasted session id, username +
password (+ security token), the JWT bearer flow, or the OAuth web-server flow with PKCE (a
listener on 127.0.0.1 receives the browser's redirect). It checks the result by reading the org's
capabilities and writes the connection details (not the secrets) into `[salesforce]`.
"""

from __future__ import annotations

import math
import webbrowser
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rgsync.cli.common import App, json_option, pass_app
from rgsync.cli.connect_exchange import exchange_command
from rgsync.cli.connect_gmail import gmail_command
from rgsync.cli.connect_microsoft365 import microsoft365_command
from rgsync.errors import RgsyncError, UsageError

if TYPE_CHECKING:
    from rgsync.providers.salesforce.auth import SalesforceConfig

# How the authorize page is shown (a browser); tests drive the sandbox's page instead.
OPEN_URL: Callable[[str], object] = webbrowser.open
# A sign-in nobody finishes within a day is not coming; a longer wait only hides a mistake.
MAX_WAIT_SECONDS = 86400.0


@click.group("connect")
def connect_group() -> None:
    """Sign in to your mailbox or Salesforce and store the secrets safely."""


connect_group.add_command(gmail_command)
connect_group.add_command(exchange_command)
connect_group.add_command(microsoft365_command)


def _open_in_browser(app: App, no_browser: bool) -> Callable[[str], object]:
    def show(url: str) -> object:
        app.err.print(
            f"Open this page to let rgsync use your Salesforce org:\n  {url}", highlight=False, soft_wrap=True
        )
        if not no_browser:
            return OPEN_URL(url)
        return None

    return show


@connect_group.command("salesforce")
@click.option(
    "--auth",
    type=click.Choice(["oauth", "jwt", "password", "session"]),
    help="How to sign in (default: the setting, else oauth).",
)
@click.option("--instance-url", metavar="URL", help="Your org's My Domain URL (needed with --auth session).")
@click.option(
    "--login-url", metavar="URL", help="Where to sign in (https://test.salesforce.com for a sandbox org)."
)
@click.option("--username", metavar="NAME", help="Your Salesforce username (password and jwt).")
@click.option(
    "--consumer-key", metavar="KEY", help="The connected app's consumer key (oauth, jwt; password optional)."
)
@click.option(
    "--private-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="jwt: the connected app's private key (PEM).",
)
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Extra CA certificates to trust for Salesforce.",
)
@click.option("--api-version", metavar="N.N", help="REST API version to use (default 59.0).")
@click.option(
    "--consumer-secret", "ask_secret", is_flag=True, help="Also ask for the connected app's consumer secret."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=1717,
    show_default=True,
    help="oauth: local port of the redirect (callback URL http://127.0.0.1:PORT/oauth/callback).",
)
@click.option(
    "--no-browser", is_flag=True, help="oauth: print the sign-in page's address instead of opening a browser."
)
@click.option(
    "--timeout",
    "wait_seconds",
    type=click.FloatRange(0, MAX_WAIT_SECONDS, min_open=True),
    default=300.0,
    show_default=True,
    help="oauth: seconds to wait for the browser.",
)
@json_option
@pass_app
def connect_salesforce_command(
    app: App,
    auth: str | None,
    instance_url: str | None,
    login_url: str | None,
    username: str | None,
    consumer_key: str | None,
    private_key_file: Path | None,
    ca_file: Path | None,
    api_version: str | None,
    ask_secret: bool,
    port: int,
    no_browser: bool,
    wait_seconds: float,
) -> None:
    """Sign in to Salesforce (OAuth in the browser, JWT, password or a session id) and check the org."""
    if not math.isfinite(wait_seconds):
        raise UsageError(f"--timeout must be a number of seconds up to {MAX_WAIT_SECONDS:.0f}")
    from rgsync.credentials import CredentialStore
    from rgsync.providers.base import ProviderError
    from rgsync.providers.salesforce import config_of
    from rgsync.providers.salesforce.auth import (
        SECRET_CONSUMER_SECRET,
        SECRET_INSTANCE,
        SECRET_PASSWORD,
        SECRET_REFRESH_TOKEN,
        SECRET_SECURITY_TOKEN,
        SECRET_SESSION,
        SignIn,
        web_sign_in,
    )
    from rgsync.providers.salesforce.client import DEFAULT_TIMEOUT, make_http
    from rgsync.providers.salesforce.crm import SalesforceCrm
    from rgsync.settings import load_settings, write_connection

    paths = app.paths
    settings = load_settings(paths.settings_file, paths.org_policy_file)
    current = config_of(settings.effective())
    config = replace(
        current,
        auth=auth or current.auth,
        instance_url=(instance_url or current.instance_url).rstrip("/"),
        login_url=(login_url or current.login_url).rstrip("/"),
        username=username or current.username,
        consumer_key=consumer_key or current.consumer_key,
        private_key_file=str(private_key_file.expanduser().absolute())
        if private_key_file
        else current.private_key_file,
        ca_file=str(ca_file.expanduser().absolute()) if ca_file else current.ca_file,
        api_version=api_version or current.api_version,
    )
    _check_options(config)
    store = CredentialStore(paths.profile, paths.credentials_file)
    if ask_secret:
        store.set(SECRET_CONSUMER_SECRET, click.prompt("Consumer secret", hide_input=True))
    try:
        if config.auth == "session":
            store.set(SECRET_SESSION, click.prompt("Session id", hide_input=True).strip())
            store.delete(SECRET_INSTANCE)
        elif config.auth == "password":
            store.set(SECRET_PASSWORD, click.prompt(f"Password for {config.username}", hide_input=True))
            token = click.prompt(
                "Security token (Enter if your network is trusted)",
                hide_input=True,
                default="",
                show_default=False,
            )
            if token:
                store.set(SECRET_SECURITY_TOKEN, token)
            else:
                store.delete(SECRET_SECURITY_TOKEN)
        if config.auth == "oauth":
            http, _adapter = make_http(config, DEFAULT_TIMEOUT, lambda _r: None)
            grant = web_sign_in(
                config,
                http,
                open_url=_open_in_browser(app, no_browser),
                port=port,
                wait_seconds=wait_seconds,
                consumer_secret=store.get(SECRET_CONSUMER_SECRET) or "",
            )
            http.close()
            if not grant.refresh_token:
                raise RgsyncError(
                    "Salesforce gave no refresh token; add the 'refresh_token' scope to the connected app and connect again"
                )
            store.set(SECRET_REFRESH_TOKEN, grant.refresh_token)
            store.set(SECRET_SESSION, grant.access_token)
            store.set(SECRET_INSTANCE, grant.instance_url)
            config = replace(config, instance_url=grant.instance_url or config.instance_url)
        elif config.auth in ("password", "jwt"):
            http, _adapter = make_http(config, DEFAULT_TIMEOUT, lambda _r: None)
            store.delete(SECRET_SESSION)
            grant = SignIn(config, store, http, DEFAULT_TIMEOUT).renew()
            http.close()
            config = replace(config, instance_url=grant.instance_url or config.instance_url)
        crm = SalesforceCrm(config, store, email_mode=str(settings.effective().save_emails_as))
        try:
            info = crm.org_info()
        finally:
            crm.close()
    except ProviderError as exc:
        raise RgsyncError(
            f"could not connect to Salesforce: {exc.message}" + (f" ({exc.advice})" if exc.advice else "")
        ) from exc
    _save(write_connection, paths.settings_file, config, login_url, api_version)
    result = {
        "connected": True,
        "auth": config.auth,
        "instance_url": config.instance_url,
        "user_id": info.user_id,
        "user_email": info.user_email,
        "enhanced_email": info.enhanced_email,
        "shared_activities": info.shared_activities,
        "key_fields": dict(info.external_id_fields),
    }
    if app.json:
        app.emit_json(result)
        return
    app.say(
        f"Connected to Salesforce as {info.user_email or info.user_id} (User {info.user_id}) at {config.instance_url}."
    )
    app.say(
        "Enhanced Email is "
        + (
            "on: emails are saved as EmailMessage records."
            if info.enhanced_email
            else "off: emails are saved as Tasks."
        )
    )
    app.say(f"Secrets are kept in {store.backend_name}; connection details in {paths.settings_file}.")


def _save(
    write: Callable[..., None],
    settings_file: Path,
    config: SalesforceConfig,
    login_url: str | None,
    api_version: str | None,
) -> None:
    """Write the connection details (never secrets) into `[salesforce]`."""
    from rgsync.providers.salesforce.auth import DEFAULT_LOGIN_URL

    values: dict[str, object] = {
        "auth": config.auth,
        "instance-url": config.instance_url or None,
        "username": config.username or None,
        "consumer-key": config.consumer_key or None,
        "private-key-file": config.private_key_file or None,
        "ca-file": config.ca_file or None,
    }
    if login_url or config.login_url != DEFAULT_LOGIN_URL:
        values["login-url"] = config.login_url
    if api_version:
        values["api-version"] = api_version
    write(settings_file, "salesforce", {k: v for k, v in values.items() if v is not None})


def _check_options(config: SalesforceConfig) -> None:
    """Refuse, in one line each, a sign-in that cannot work with the options given."""
    if config.auth == "session" and not config.instance_url:
        raise UsageError("--auth session needs --instance-url (your org's My Domain URL, https://…)")
    if config.auth in ("password", "jwt") and not config.username:
        raise UsageError(f"--auth {config.auth} needs --username (your Salesforce username)")
    if config.auth in ("jwt", "oauth") and not config.consumer_key:
        raise UsageError(f"--auth {config.auth} needs --consumer-key (the connected app's consumer key)")
    if config.auth == "jwt":
        if not config.private_key_file:
            raise UsageError("--auth jwt needs --private-key-file (the connected app's private key, PEM)")
        if not Path(config.private_key_file).is_file():
            raise UsageError(f"--private-key-file {config.private_key_file} does not exist")
    from rgsync.settings import SettingsError
    from rgsync.settings.schema import key_by_name
    from rgsync.settings.values import check_value

    for name, url in (("--instance-url", config.instance_url), ("--login-url", config.login_url)):
        if url and not url.startswith("https://"):
            raise UsageError(f"{name} must be an https:// URL, not {url!r}")
        if url:
            try:
                check_value(key_by_name(f"salesforce.{name[2:]}"), url)
            except SettingsError as exc:
                raise UsageError(f"{name} {url!r} is not a usable URL ({exc.message})") from None
    try:
        check_value(key_by_name("salesforce.api-version"), config.api_version)
    except SettingsError:
        raise UsageError(
            f"--api-version must be a Salesforce API version such as 59.0, not {config.api_version!r}"
        ) from None
    if config.ca_file and not Path(config.ca_file).is_file():
        raise UsageError(f"--ca-file {config.ca_file} does not exist")
