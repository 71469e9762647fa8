"""The Exchange on-premises mailbox (Exchange 2016, 2019, Subscription Edition) over EWS with
exchangelib.

`descriptor.DESCRIPTOR` is what `rgsync.registry` lists for `[mailbox] provider = "exchange"`;
`open_exchange` opens the mailbox from its typed config (`config.ExchangeConnection`). Modules:
`connection` (the one error mapping, request counting), `connect` (the sign-in flow), `convert`
and `records` (EWS items ↔ domain records, time zones), `light` (lean readings of email
listings and GetItem answers), `access`, `reads` and `writes` (the `Mailbox` protocol, put
together in `mailbox`), and `doctor` (the checks of `rgsync doctor` and `rgsync connect exchange`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rgsync.credentials import CredentialStore
from rgsync.errors import UsageError
from rgsync.providers.base import AuthError
from rgsync.providers.descriptor import ProfileOptions
from rgsync.providers.exchange.config import ExchangeConnection
from rgsync.providers.exchange.connection import (
    PASSWORD_SECRET,
    RECONNECT_ADVICE,
    TOKEN_SECRET,
    EwsConnection,
)
from rgsync.providers.exchange.mailbox import ExchangeMailbox

__all__ = [
    "PASSWORD_SECRET",
    "TOKEN_SECRET",
    "ExchangeConnection",
    "ExchangeMailbox",
    "open_exchange",
]


def open_exchange(
    config: ExchangeConnection,
    store: CredentialStore,
    options: ProfileOptions | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> ExchangeMailbox:
    """The Exchange mailbox for a typed connection config and the profile's credentials store.

    Nothing is sent yet. A missing password (or token) becomes a MAIL-AUTH failure of the session
    with the advice to run `rgsync connect exchange`. Nothing is retried in the adapter: the
    session's one retry policy does that. `UsageError` when the address or EWS URL is missing.
    """
    where = (options or ProfileOptions()).settings_file
    if not config.address:
        raise UsageError(
            f"no mailbox address in {where}: run `rgsync connect exchange` "
            "or `rgsync settings set mailbox.address you@example.com`"
        )
    if not config.ews_url:
        raise UsageError(
            f"no EWS endpoint in {where}: run `rgsync connect exchange` "
            "or `rgsync settings set mailbox.ews-url https://mail.example.com/EWS/Exchange.asmx`"
        )
    secret_name = TOKEN_SECRET if config.auth_type == "oauth" else PASSWORD_SECRET
    secret = store.get(secret_name) or ""
    details = config.with_secret(secret)
    connection = EwsConnection(details)
    if not secret:
        connection.missing_secret = AuthError(
            f"no Exchange {'token' if config.auth_type == 'oauth' else 'password'} is stored for this profile",
            code="MAIL-AUTH",
            advice=RECONNECT_ADVICE,
        )
    return ExchangeMailbox(
        connection,
        address=details.address,
        aliases=list(config.aliases),
        time_zone=details.time_zone,
        clock=clock,
    )
