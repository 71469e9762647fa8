"""The Gmail / Google Workspace mailbox as `rgsync.registry` lists it."""

from __future__ import annotations

from collections.abc import Sequence

from rgsync.credentials import CredentialStore
from rgsync.providers.descriptor import FindingLike, ProfileOptions, ProviderDescriptor
from rgsync.providers.google import open_gmail
from rgsync.providers.google.connect import OPTIONS, GmailConnectRequest, connect_gmail
from rgsync.providers.google.connection import GmailConnection


def findings(
    connection: GmailConnection, store: CredentialStore, _options: ProfileOptions
) -> Sequence[FindingLike]:
    """The Google checks of `rgsync doctor`."""
    from rgsync.providers.google.doctor import google_findings

    return google_findings(connection.sign_in_table(), store)


DESCRIPTOR = ProviderDescriptor(
    kind="gmail",
    section="mailbox",
    connect_help="Sign in to Gmail / Google Workspace and remember the mailbox.",
    connection=GmailConnection.from_table,
    open=open_gmail,
    request=GmailConnectRequest,
    connect=connect_gmail,
    doctor=findings,
    options=OPTIONS,
)
