"""The sign-in flow of `rgsync connect salesforce` (SPEC §9), as a plain function.

`connect_salesforce(request, current, context)` runs the chosen sign-in — a pasted session id,
username + password (+ security token), the JWT bearer flow, or the OAuth web-server flow with
PKCE (a listener on 127.0.0.1 receives the browser's redirect) — checks it by reading the org's
capabilities, and returns the connection details for `[salesforce]` and the secrets to keep.
Nothing is stored here: a refused sign-in leaves the profile as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from rgsync.errors import RgsyncError, UsageError
from rgsync.providers.base import ProviderError
from rgsync.providers.descriptor import ConnectContext, ConnectResult, Option
from rgsync.providers.salesforce.auth import (
    DEFAULT_LOGIN_URL,
    SECRET_CONSUMER_SECRET,
    SECRET_INSTANCE,
    SECRET_PASSWORD,
    SECRET_REFRESH_TOKEN,
    SECRET_SECURITY_TOKEN,
    SECRET_SESSION,
    SalesforceConfig,
    web_sign_in,
)
from rgsync.providers.salesforce.connection import open_salesforce

# A sign-in nobody finishes within a day is not coming; a longer wait only hides a mistake.
MAX_WAIT_SECONDS = 86400.0


@dataclass(frozen=True)
class SalesforceConnectRequest:
    """What the user asked for; None means "keep the current setting"."""

    auth: str | None = None
    instance_url: str | None = None
    login_url: str | None = None
    username: str | None = None
    consumer_key: str | None = None
    private_key_file: Path | None = None
    ca_file: Path | None = None
    api_version: str | None = None
    ask_secret: bool = False
    port: int = 1717
    no_browser: bool = False
    wait_seconds: float = 300.0


OPTIONS = (
    Option(
        "--auth",
        "auth",
        "How to sign in (default: the setting, else oauth).",
        kind="choice",
        choices=("oauth", "jwt", "password", "session"),
    ),
    Option(
        "--instance-url",
        "instance_url",
        "Your org's My Domain URL (needed with --auth session).",
        metavar="URL",
        setting="salesforce.instance-url",
    ),
    Option(
        "--login-url",
        "login_url",
        "Where to sign in (https://test.salesforce.com for a sandbox org).",
        metavar="URL",
        setting="salesforce.login-url",
    ),
    Option("--username", "username", "Your Salesforce username (password and jwt).", metavar="NAME"),
    Option(
        "--consumer-key",
        "consumer_key",
        "The connected app's consumer key (oauth, jwt; password optional).",
        metavar="KEY",
    ),
    Option(
        "--private-key-file", "private_key_file", "jwt: the connected app's private key (PEM).", kind="file"
    ),
    Option("--ca-file", "ca_file", "Extra CA certificates to trust for Salesforce.", kind="file"),
    Option(
        "--api-version",
        "api_version",
        "REST API version to use (default 59.0).",
        metavar="N.N",
        setting="salesforce.api-version",
    ),
    Option(
        "--consumer-secret", "ask_secret", "Also ask for the connected app's consumer secret.", kind="flag"
    ),
    Option(
        "--port",
        "port",
        "oauth: local port of the redirect (callback URL http://127.0.0.1:PORT/oauth/callback).",
        kind="int",
        minimum=0,
        maximum=65535,
        default=1717,
        show_default=True,
    ),
    Option(
        "--no-browser",
        "no_browser",
        "oauth: print the sign-in page's address instead of opening a browser.",
        kind="flag",
    ),
    Option(
        "--timeout",
        "wait_seconds",
        "oauth: seconds to wait for the browser.",
        kind="float",
        minimum=0,
        maximum=MAX_WAIT_SECONDS,
        minimum_open=True,
        default=300.0,
        show_default=True,
    ),
)


def _absolute(path: Path | None, current: str) -> str:
    return str(path.expanduser().absolute()) if path else current


def _config(request: SalesforceConnectRequest, current: SalesforceConfig) -> SalesforceConfig:
    """The current `[salesforce]` config with what the request changes."""
    return replace(
        current,
        auth=request.auth or current.auth,
        instance_url=(request.instance_url or current.instance_url).rstrip("/"),
        login_url=(request.login_url or current.login_url).rstrip("/"),
        username=request.username or current.username,
        consumer_key=request.consumer_key or current.consumer_key,
        private_key_file=_absolute(request.private_key_file, current.private_key_file),
        ca_file=_absolute(request.ca_file, current.ca_file),
        api_version=request.api_version or current.api_version,
    )


def check_request(request: SalesforceConnectRequest, config: SalesforceConfig) -> None:
    """Refuse, in one line each, a sign-in that cannot work with the options given (before any prompt)."""
    if not math.isfinite(request.wait_seconds):
        raise UsageError(f"--timeout must be a number of seconds up to {MAX_WAIT_SECONDS:.0f}")
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
    for name, url in (("--instance-url", config.instance_url), ("--login-url", config.login_url)):
        if url and not url.startswith("https://"):
            raise UsageError(f"{name} must be an https:// URL, not {url!r}")
    if config.ca_file and not Path(config.ca_file).is_file():
        raise UsageError(f"--ca-file {config.ca_file} does not exist")


def _ask_secrets(
    config: SalesforceConfig, request: SalesforceConnectRequest, context: ConnectContext
) -> None:
    """Ask for what the chosen sign-in needs from the user, into the staged store."""
    secrets, ask = context.secrets, context.interaction
    if request.ask_secret:
        secrets.set(SECRET_CONSUMER_SECRET, ask.ask_secret("Consumer secret"))
    if config.auth == "session":
        secrets.set(SECRET_SESSION, ask.ask_secret("Session id").strip())
        secrets.delete(SECRET_INSTANCE)
    elif config.auth == "password":
        secrets.set(SECRET_PASSWORD, ask.ask_secret(f"Password for {config.username}"))
        token = ask.ask_secret("Security token (Enter if your network is trusted)", allow_empty=True)
        if token:
            secrets.set(SECRET_SECURITY_TOKEN, token)
        else:
            secrets.delete(SECRET_SECURITY_TOKEN)
    if config.auth in ("password", "jwt"):
        # A stored session would be used as is; these sign-ins must prove themselves now.
        secrets.delete(SECRET_SESSION)


def connect_salesforce(
    request: SalesforceConnectRequest, current: SalesforceConfig, context: ConnectContext
) -> ConnectResult:
    """Sign in to Salesforce as asked, check the org, and return what to store (SPEC §9).

    Raises `UsageError` for options that cannot work (before asking anything) and `RgsyncError`
    naming the fix when Salesforce refuses.
    """
    config = _config(request, current)
    check_request(request, config)
    _ask_secrets(config, request, context)
    secrets = context.secrets
    crm = open_salesforce(config, secrets, context.options)
    try:
        if config.auth == "oauth":
            ask = context.interaction

            def show(url: str) -> None:
                ask.tell(f"Open this page to let rgsync use your Salesforce org:\n  {url}")
                if not request.no_browser:
                    ask.open_url(url)

            grant = web_sign_in(
                config,
                crm.client.http,
                open_url=show,
                port=request.port,
                wait_seconds=request.wait_seconds,
                consumer_secret=secrets.get(SECRET_CONSUMER_SECRET) or "",
            )
            if not grant.refresh_token:
                raise RgsyncError(
                    "Salesforce gave no refresh token; add the 'refresh_token' scope to the connected app and connect again"
                )
            secrets.set(SECRET_REFRESH_TOKEN, grant.refresh_token)
            secrets.set(SECRET_SESSION, grant.access_token)
            secrets.set(SECRET_INSTANCE, grant.instance_url)
        info = crm.org_info()  # signs in first (password, jwt) or uses the session just stored
    except ProviderError as exc:
        raise RgsyncError(
            f"could not connect to Salesforce: {exc.message}" + (f" ({exc.advice})" if exc.advice else "")
        ) from exc
    finally:
        crm.close()
    if config.auth != "session":
        config = replace(config, instance_url=secrets.get(SECRET_INSTANCE) or config.instance_url)
    return ConnectResult(
        section="salesforce",
        settings=_settings(config, request),
        secrets=dict(secrets.changes),
        report={
            "connected": True,
            "auth": config.auth,
            "instance_url": config.instance_url,
            "user_id": info.user_id,
            "user_email": info.user_email,
            "enhanced_email": info.enhanced_email,
            "shared_activities": info.shared_activities,
            "key_fields": dict(info.external_id_fields),
        },
        lines=(
            f"Connected to Salesforce as {info.user_email or info.user_id} (User {info.user_id}) at {config.instance_url}.",
            "Enhanced Email is "
            + (
                "on: emails are saved as EmailMessage records."
                if info.enhanced_email
                else "off: emails are saved as Tasks."
            ),
            f"Secrets are kept in {secrets.backend_name}; connection details in {context.settings_file}.",
        ),
    )


def _settings(config: SalesforceConfig, request: SalesforceConnectRequest) -> dict[str, object]:
    """The connection details (never secrets) for `[salesforce]`; unset ones are left alone."""
    values: dict[str, object] = {
        "auth": config.auth,
        "instance-url": config.instance_url or None,
        "username": config.username or None,
        "consumer-key": config.consumer_key or None,
        "private-key-file": config.private_key_file or None,
        "ca-file": config.ca_file or None,
    }
    if request.login_url or config.login_url != DEFAULT_LOGIN_URL:
        values["login-url"] = config.login_url
    if request.api_version:
        values["api-version"] = request.api_version
    return {k: v for k, v in values.items() if v is not None}
