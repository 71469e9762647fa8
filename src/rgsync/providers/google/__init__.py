"""The Gmail / Google Workspace mailbox: Gmail, Google Calendar, Google Tasks and People.

`open_mailbox(settings, paths)` is what `rgsync.registry` calls for `[mailbox] provider = "gmail"`.
Modules: `api` (services, error mapping, batches), `auth` (sign-in), `mime` (RFC 822 parsing),
`gmail`, `calendar`, `tasks`, `people` (one per stream) and `mailbox` (the `Mailbox` protocol).
"""

from __future__ import annotations

from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.errors import UsageError
from rgsync.model import LABEL_SAVE, LABEL_SAVE_THREAD
from rgsync.paths import Paths
from rgsync.providers.google.api import GoogleApi
from rgsync.providers.google.auth import load_credentials, token_saver
from rgsync.providers.google.mailbox import GoogleMailbox

__all__ = ["GoogleMailbox", "open_mailbox"]


def open_mailbox(settings: Any, paths: Paths) -> GoogleMailbox:
    """The Gmail mailbox of a profile, from `[mailbox]` settings and the profile's credentials.

    Nothing is sent yet: the sign-in is loaded at the first call, so a missing or revoked one
    becomes a MAIL-AUTH issue of the session. Nothing is retried in the adapter.
    Raises `UsageError` when the settings lack the mailbox address.
    """
    mailbox = settings.mailbox.table()
    address = str(mailbox.get("address") or "").strip()
    if not address:
        raise UsageError(
            f"no mailbox address in {paths.settings_file}: run `rgsync connect gmail` "
            "or `rgsync settings set mailbox.address you@example.com`"
        )
    store = CredentialStore(paths.profile, paths.credentials_file)
    endpoint = mailbox.get("gmail-api-url")
    api = GoogleApi(
        lambda: load_credentials(mailbox, store),
        endpoint=str(endpoint) if endpoint else None,
    )
    aliases = mailbox.get("aliases") or []
    time_zone = mailbox.get("time-zone")
    return GoogleMailbox(
        api,
        address=address,
        aliases=[str(a) for a in aliases] if isinstance(aliases, list) else [],
        time_zone=str(time_zone) if time_zone else None,
        save_label=str(mailbox.get("save-label") or LABEL_SAVE),
        thread_label=str(mailbox.get("thread-label") or LABEL_SAVE_THREAD),
        on_close=token_saver(store),
    )
