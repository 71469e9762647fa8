"""The Exchange on-premises mailbox (EWS) as `rgsync.registry` lists it."""

from __future__ import annotations

from collections.abc import Sequence

from rgsync.credentials import CredentialStore
from rgsync.providers.descriptor import FindingLike, ProfileOptions, ProviderDescriptor
from rgsync.providers.exchange import open_exchange
from rgsync.providers.exchange.config import ExchangeConnection
from rgsync.providers.exchange.connect import OPTIONS, ExchangeConnectRequest, connect_exchange


def findings(
    connection: ExchangeConnection, store: CredentialStore, _options: ProfileOptions
) -> Sequence[FindingLike]:
    """The Exchange checks of `rgsync doctor`."""
    from rgsync.providers.exchange.doctor import exchange_findings

    return exchange_findings(connection, store)


DESCRIPTOR = ProviderDescriptor(
    kind="exchange",
    section="mailbox",
    connect_help="Sign in to Exchange (2016, 2019, Subscription Edition) over EWS and remember the mailbox.",
    connection=ExchangeConnection.from_table,
    open=open_exchange,
    request=ExchangeConnectRequest,
    connect=connect_exchange,
    doctor=findings,
    options=OPTIONS,
)
