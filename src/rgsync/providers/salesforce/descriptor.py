"""Salesforce as `rgsync.registry` lists it: config, opening, sign-in flow and doctor findings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.providers.descriptor import FindingLike, ProfileOptions, ProviderDescriptor
from rgsync.providers.salesforce.auth import SalesforceConfig
from rgsync.providers.salesforce.connect import OPTIONS, SalesforceConnectRequest, connect_salesforce
from rgsync.providers.salesforce.connection import open_salesforce


def connection(table: Mapping[str, Any]) -> SalesforceConfig:
    """The typed `[salesforce]` table."""
    return SalesforceConfig.from_table(table)


def findings(
    config: SalesforceConfig, store: CredentialStore, options: ProfileOptions
) -> Sequence[FindingLike]:
    """The Salesforce checks of `rgsync doctor`."""
    from rgsync.providers.salesforce.doctor import salesforce_findings

    return salesforce_findings(
        config,
        store,
        save_emails_as=options.email_mode,
        min_api_remaining=options.min_api_remaining,
        open_crm=lambda: open_salesforce(config, store, options),
    )


DESCRIPTOR = ProviderDescriptor(
    kind="salesforce",
    section="salesforce",
    connect_help="Sign in to Salesforce (OAuth in the browser, JWT, password or a session id) and check the org.",
    connection=connection,
    open=open_salesforce,
    request=SalesforceConnectRequest,
    connect=connect_salesforce,
    doctor=findings,
    options=OPTIONS,
)
