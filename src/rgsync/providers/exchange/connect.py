"""The sign-in flow of `rgsync connect exchange` (SPEC §9), as a plain function.

Asks for the password (or, with auth type oauth, an access token), checks it by reading the
mailbox's folders through EWS, and returns the secret for the credentials store and the
connection details (provider, address, EWS URL, sign-in name and type, impersonation, CA file)
for `[mailbox]`. Without an EWS URL the endpoint is looked up with Autodiscover.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rgsync.errors import RgsyncError, UsageError
from rgsync.providers.base import ProviderError
from rgsync.providers.descriptor import ConnectContext, ConnectResult, Option
from rgsync.providers.exchange.config import ExchangeConnection


@dataclass(frozen=True)
class ExchangeConnectRequest:
    """What the user asked for; None means "keep the current setting"."""

    address: str | None = None
    ews_url: str | None = None
    username: str | None = None
    auth_type: str | None = None
    impersonate: bool | None = None
    ca_file: Path | None = None


OPTIONS = (
    Option("--address", "address", "The mailbox address (default: the one in the settings)."),
    Option(
        "--ews-url", "ews_url", "The EWS endpoint, https://mail.example.com/EWS/Exchange.asmx.", metavar="URL"
    ),
    Option(
        "--username", "username", "Sign-in name, e.g. EXAMPLE\\you or you@example.com (default: the address)."
    ),
    Option(
        "--auth-type",
        "auth_type",
        "How to sign in (default: the setting, else ntlm).",
        kind="choice",
        choices=("ntlm", "basic", "oauth"),
    ),
    Option(
        "--impersonate/--no-impersonate",
        "impersonate",
        "Admins: sign in as a service account that impersonates the mailbox.",
        kind="switch",
    ),
    Option("--ca-file", "ca_file", "Extra CA certificates to trust.", kind="file", exists=True),
)


def connect_exchange(
    request: ExchangeConnectRequest, current: ExchangeConnection, context: ConnectContext
) -> ConnectResult:
    """Sign in to an Exchange mailbox over EWS as asked and return what to store (SPEC §9)."""
    from rgsync.providers.exchange.doctor import probe, secret_name

    # Another kind's [mailbox] table says nothing about this mailbox, except its time zone.
    base = current if context.same_kind else ExchangeConnection(time_zone=current.time_zone)
    address = (request.address or base.address).strip().lower()
    if not address or "@" not in address:
        raise UsageError("give the mailbox address: rgsync connect exchange --address you@example.com")
    auth = (request.auth_type or base.auth_type or "ntlm").lower()
    user = request.username or base.username or address
    impersonating = base.impersonate if request.impersonate is None else request.impersonate
    ca = str(request.ca_file.expanduser().absolute()) if request.ca_file else (base.ca_file or None)
    prompt = "Access token" if auth == "oauth" else f"Password for {user}"
    secret = context.interaction.ask_secret(prompt)
    endpoint = request.ews_url or base.ews_url or autodiscover(address, user, secret, auth)
    if not endpoint.startswith(("https://", "http://")):
        raise UsageError(f"--ews-url must be an http(s):// URL, not {endpoint!r}")
    config = replace(
        base,
        address=address,
        ews_url=endpoint,
        username=user,
        auth_type=auth,
        impersonate=impersonating,
        ca_file=ca or "",
    )
    try:
        found = probe(config.with_secret(secret))
    except ProviderError as exc:
        raise RgsyncError(
            f"could not connect to Exchange at {endpoint}: {exc.message}"
            + (f" ({exc.advice})" if exc.advice and "rgsync connect" not in exc.advice else "")
        ) from exc
    context.secrets.set(secret_name(auth), secret)
    values: dict[str, Any] = {
        "provider": "exchange",
        "address": address,
        "ews-url": endpoint,
        "username": user if user != address else None,
        "auth-type": auth,
        "impersonate": impersonating,
        "ca-file": ca,
    }
    lines = [f"Connected to Exchange at {endpoint} as {user} for {address}."]
    if found["missing"]:
        lines.append(f"Warning: these folders cannot be opened: {', '.join(found['missing'])}.")
    lines.append(
        f"The {'token' if auth == 'oauth' else 'password'} is kept in {context.secrets.backend_name}; "
        f"connection details in {context.settings_file}."
    )
    return ConnectResult(
        section="mailbox",
        settings=values,
        secrets=dict(context.secrets.changes),
        report={
            "connected": True,
            "address": address,
            "ews_url": endpoint,
            "auth_type": auth,
            "missing_folders": found["missing"],
        },
        lines=tuple(lines),
    )


def autodiscover(address: str, username: str, secret: str, auth: str) -> str:
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
