"""The Microsoft 365 mailbox adapter: Microsoft Graph over plain HTTP, msal for sign-in.

`open_mailbox(settings, paths)` builds it from `[mailbox]` (provider = microsoft365, address,
aliases, time-zone, graph-url, authority-url, tenant-id, client-id, ca-file) and the credentials
store of the profile: msal's token cache of a signed-in user (`rgsync connect microsoft365`), or a
client secret / certificate for app-only access to the mailbox (admins running many mailboxes).

Parts: `auth` (msal), `client` (HTTP, errors, `$batch`), `convert` (Graph JSON ↔ records),
`reads` (delta queries), `mailbox` (the Mailbox protocol: writes, tags, categories), `doctor`
(what `rgsync doctor` checks); `rgsync.cli.connect_microsoft365` is `rgsync connect microsoft365`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.errors import UsageError
from rgsync.paths import Paths
from rgsync.providers.microsoft365.auth import (
    AppTokens,
    DelegatedTokens,
    SignInConfig,
    app_credential,
    authority_url,
    http_session,
)
from rgsync.providers.microsoft365.client import DEFAULT_GRAPH_URL, GraphClient, TokenSource
from rgsync.providers.microsoft365.mailbox import Microsoft365Mailbox

__all__ = ["Microsoft365Mailbox", "mailbox_from_settings", "open_mailbox", "sign_in_config"]


def sign_in_config(mailbox: Mapping[str, Any]) -> SignInConfig:
    """The sign-in details of a `[mailbox]` table; UsageError naming the missing setting."""
    client_id = str(mailbox.get("client-id") or "").strip()
    if not client_id:
        raise UsageError(
            "mailbox.client-id is not set: give the application (client) id of your Microsoft Entra app "
            "with `rgsync connect microsoft365 --client-id ID`"
        )
    ca_file = mailbox.get("ca-file")
    return SignInConfig(
        client_id=client_id,
        authority=authority_url(_text(mailbox.get("authority-url")), _text(mailbox.get("tenant-id"))),
        ca_file=str(ca_file) if ca_file else None,
    )


def _text(value: object) -> str | None:
    return str(value) if value else None


def mailbox_from_settings(
    mailbox: Mapping[str, Any],
    store: CredentialStore,
    *,
    tokens: TokenSource | None = None,
) -> Microsoft365Mailbox:
    """The adapter for a `[mailbox]` table; `tokens` replaces the stored sign-in (scripts, tests)."""
    address = str(mailbox.get("address") or "").strip().lower()
    if not address:
        raise UsageError("mailbox.address is not set: run `rgsync connect microsoft365`")
    config = sign_in_config(mailbox)
    prefix = "/me"
    if tokens is None:
        credential = app_credential(store)
        sign_in = http_session(config.ca_file)
        if credential is not None:
            tokens = AppTokens(config, credential, sign_in)
            prefix = GraphClient.user_prefix(address)
        else:
            tokens = DelegatedTokens(config, store, sign_in, address=address)
    client = GraphClient(
        http_session(config.ca_file),
        tokens,
        graph_url=str(mailbox.get("graph-url") or DEFAULT_GRAPH_URL),
        prefix=prefix,
    )
    return Microsoft365Mailbox(
        client,
        address,
        [str(a) for a in mailbox.get("aliases") or []],
        time_zone=str(mailbox.get("time-zone") or "UTC"),
    )


def open_mailbox(settings: Any, paths: Paths) -> Microsoft365Mailbox:
    """The Microsoft 365 mailbox of a profile (the registry's factory)."""
    return mailbox_from_settings(
        settings.mailbox.table(), CredentialStore(paths.profile, paths.credentials_file)
    )
