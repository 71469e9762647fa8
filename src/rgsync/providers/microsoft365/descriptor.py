"""The Microsoft 365 mailbox (Graph) as `rgsync.registry` lists it."""

from __future__ import annotations

from collections.abc import Sequence

from rgsync.credentials import CredentialStore
from rgsync.providers.descriptor import FindingLike, ProfileOptions, ProviderDescriptor
from rgsync.providers.microsoft365 import open_microsoft365
from rgsync.providers.microsoft365.config import Microsoft365Connection
from rgsync.providers.microsoft365.connect import OPTIONS, Microsoft365ConnectRequest, connect_microsoft365


def findings(
    connection: Microsoft365Connection, store: CredentialStore, _options: ProfileOptions
) -> Sequence[FindingLike]:
    """The Microsoft 365 checks of `rgsync doctor`."""
    from rgsync.providers.microsoft365.doctor import microsoft365_findings

    return microsoft365_findings(connection, store)


DESCRIPTOR = ProviderDescriptor(
    kind="microsoft365",
    section="mailbox",
    connect_help="Sign in to Microsoft 365 (device code, or app-only for admins) and remember the mailbox.",
    connection=Microsoft365Connection.from_table,
    open=open_microsoft365,
    request=Microsoft365ConnectRequest,
    connect=connect_microsoft365,
    doctor=findings,
    options=OPTIONS,
)
