"""The Microsoft 365 mailbox adapter: Microsoft Graph over plain HTTP, msal for sign-in.

`open_microsoft365(config, store)` builds it from the typed `[mailbox]` config
(`config.Microsoft365Connection`: address, aliases, time-zone, graph-url, authority-url,
tenant-id, client-id, ca-file) and the credentials store of the profile: msal's token cache of a
signed-in user (`rgsync connect microsoft365`), or a client secret / certificate for app-only access to the mailbox (admins running many mailboxes).

Parts: `auth` (msal), `client` (HTTP, errors, `$batch`), `convert` (Graph JSON ↔ records),
`reads` (delta queries), `mailbox` (the Mailbox protocol: writes, tags, categories), `doctor`
(what `rgsync doctor` checks), `connect` (the sign-in flow) and `descriptor` (the registration).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.errors import UsageError
from rgsync.providers.descriptor import ProfileOptions
from rgsync.providers.microsoft365.auth import (
    AppTokens,
    DelegatedTokens,
    SignInConfig,
    app_credential,
    http_session,
)
from rgsync.providers.microsoft365.client import GraphClient, TokenSource
from rgsync.providers.microsoft365.config import Microsoft365Connection
from rgsync.providers.microsoft365.mailbox import Microsoft365Mailbox

__all__ = [
    "Microsoft365Connection",
    "Microsoft365Mailbox",
    "mailbox_from_settings",
    "open_microsoft365",
    "sign_in_config",
]


def sign_in_config(mailbox: Mapping[str, Any]) -> SignInConfig:
    """The sign-in details of a `[mailbox]` table; UsageError naming the missing setting."""
    return Microsoft365Connection.from_table(mailbox).sign_in()


def open_microsoft365(
    config: Microsoft365Connection,
    store: CredentialStore,
    options: ProfileOptions | None = None,
    *,
    tokens: TokenSource | None = None,
) -> Microsoft365Mailbox:
    """The adapter for a typed config; `tokens` replaces the stored sign-in (scripts, tests).

    An app credential in the store (client secret or certificate) means app-only access to the
    configured mailbox; otherwise the signed-in user's msal token cache is used.
    """
    if not config.address:
        raise UsageError("mailbox.address is not set: run `rgsync connect microsoft365`")
    sign_in = config.sign_in()
    prefix = "/me"
    if tokens is None:
        credential = app_credential(store)
        session = http_session(sign_in.ca_file)
        if credential is not None:
            tokens = AppTokens(sign_in, credential, session)
            prefix = GraphClient.user_prefix(config.address)
        else:
            tokens = DelegatedTokens(sign_in, store, session, address=config.address)
    client = GraphClient(http_session(sign_in.ca_file), tokens, graph_url=config.graph_root, prefix=prefix)
    return Microsoft365Mailbox(client, config.address, list(config.aliases), time_zone=config.time_zone)


def mailbox_from_settings(
    mailbox: Mapping[str, Any],
    store: CredentialStore,
    *,
    tokens: TokenSource | None = None,
) -> Microsoft365Mailbox:
    """The adapter for a `[mailbox]` table (see `open_microsoft365`)."""
    return open_microsoft365(Microsoft365Connection.from_table(mailbox), store, tokens=tokens)
