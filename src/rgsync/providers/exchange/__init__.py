"""The Exchange on-premises mailbox (Exchange 2016, 2019, Subscription Edition) over EWS with
exchangelib.

`open_mailbox(settings, paths)` is what `rgsync.registry` calls for `[mailbox] provider =
"exchange"`. Modules: `connection` (configuration, the one error mapping, request
counting), `convert` and `records` (EWS items ↔ domain records, time zones), `access`, `reads` and
`writes` (the `Mailbox` protocol, put together in `mailbox`), and `doctor` (the checks of
`rgsync doctor` and `rgsync connect exchange`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.errors import UsageError
from rgsync.paths import Paths
from rgsync.providers.base import AuthError
from rgsync.providers.exchange.connection import (
    PASSWORD_SECRET,
    RECONNECT_ADVICE,
    TOKEN_SECRET,
    ConnectionSettings,
    EwsConnection,
)
from rgsync.providers.exchange.mailbox import ExchangeMailbox

__all__ = ["PASSWORD_SECRET", "TOKEN_SECRET", "ExchangeMailbox", "connection_settings", "open_mailbox"]


def connection_settings(mailbox: dict[str, Any], secret: str, paths: Paths) -> ConnectionSettings:
    """The connection details of `[mailbox]`; `UsageError` when the address or EWS URL is missing."""
    address = str(mailbox.get("address") or "").strip()
    if not address:
        raise UsageError(
            f"no mailbox address in {paths.settings_file}: run `rgsync connect exchange` "
            "or `rgsync settings set mailbox.address you@example.com`"
        )
    ews_url = str(mailbox.get("ews-url") or "").strip()
    if not ews_url:
        raise UsageError(
            f"no EWS endpoint in {paths.settings_file}: run `rgsync connect exchange` "
            "or `rgsync settings set mailbox.ews-url https://mail.example.com/EWS/Exchange.asmx`"
        )
    ca_file = mailbox.get("ca-file")
    return ConnectionSettings(
        address=address,
        ews_url=ews_url,
        username=str(mailbox.get("username") or address),
        secret=secret,
        auth_type=str(mailbox.get("auth-type") or "ntlm"),
        impersonate=bool(mailbox.get("impersonate")),
        time_zone=str(mailbox.get("time-zone") or "UTC"),
        ca_file=str(ca_file) if ca_file else None,
    )


def open_mailbox(
    settings: Any,
    paths: Paths,
    *,
    clock: Callable[[], datetime] | None = None,
) -> ExchangeMailbox:
    """The Exchange mailbox of a profile, from `[mailbox]` settings and the profile's credentials.

    Nothing is sent yet. A missing password (or token) becomes a MAIL-AUTH failure of the session
    with the advice to run `rgsync connect exchange`. Nothing is retried in the adapter: the
    session's one retry policy does that.
    """
    mailbox = settings.mailbox.table()
    store = CredentialStore(paths.profile, paths.credentials_file)
    auth_type = str(mailbox.get("auth-type") or "ntlm").lower()
    secret_name = TOKEN_SECRET if auth_type == "oauth" else PASSWORD_SECRET
    secret = store.get(secret_name) or ""
    details = connection_settings(mailbox, secret, paths)
    connection = EwsConnection(details)
    if not secret:
        connection.missing_secret = AuthError(
            f"no Exchange {'token' if auth_type == 'oauth' else 'password'} is stored for this profile",
            code="MAIL-AUTH",
            advice=RECONNECT_ADVICE,
        )
    aliases = mailbox.get("aliases") or []
    return ExchangeMailbox(
        connection,
        address=details.address,
        aliases=[str(a) for a in aliases] if isinstance(aliases, list) else [],
        time_zone=details.time_zone,
        clock=clock,
    )
