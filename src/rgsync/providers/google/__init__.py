"""The Gmail / Google Workspace mailbox: Gmail, Google Calendar, Google Tasks and People.

`descriptor.DESCRIPTOR` is what `rgsync.registry` lists for `[mailbox] provider = "gmail"`;
`open_gmail` opens the mailbox from its typed config (`connection.GmailConnection`), `connect` is
the sign-in flow and `doctor` the checks.
Modules: `api` (services, error mapping, batches), `auth` (sign-in), `mime` (RFC 822 parsing),
`gmail`, `calendar`, `tasks`, `people` (one per stream) and `mailbox` (the `Mailbox` protocol).
"""

from __future__ import annotations

from rgsync.credentials import CredentialStore
from rgsync.errors import UsageError
from rgsync.providers.descriptor import ProfileOptions
from rgsync.providers.google.api import GoogleApi
from rgsync.providers.google.auth import load_credentials, token_saver
from rgsync.providers.google.connection import GmailConnection
from rgsync.providers.google.mailbox import GoogleMailbox

__all__ = ["GmailConnection", "GoogleMailbox", "open_gmail"]


def open_gmail(
    connection: GmailConnection, store: CredentialStore, options: ProfileOptions | None = None
) -> GoogleMailbox:
    """The Gmail mailbox for a typed connection config and the profile's credentials store.

    Nothing is sent yet: the sign-in is loaded at the first call, so a missing or revoked one
    becomes a MAIL-AUTH issue of the session. Nothing is retried in the adapter.
    Raises `UsageError` when the config lacks the mailbox address.
    """
    options = options or ProfileOptions()
    if not connection.address:
        raise UsageError(
            f"no mailbox address in {options.settings_file}: run `rgsync connect gmail` "
            "or `rgsync settings set mailbox.address you@example.com`"
        )
    table = connection.sign_in_table()
    api = GoogleApi(lambda: load_credentials(table, store), endpoint=connection.api_url or None)
    return GoogleMailbox(
        api,
        address=connection.address,
        aliases=list(connection.aliases),
        time_zone=connection.time_zone or None,
        save_label=connection.save_label,
        thread_label=connection.thread_label,
        on_close=token_saver(store),
    )
