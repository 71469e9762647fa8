"""The one place a Salesforce connection is built: config + credentials store → `SalesforceCrm`.

The adapter, `rgsync doctor` and `rgsync connect salesforce` all open the org here, so the
sign-in (stored session, refresh token, JWT, password), the TLS trust and the API version are
decided the same way everywhere.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rgsync.credentials import CredentialStore
from rgsync.providers.descriptor import ProfileOptions
from rgsync.providers.salesforce.auth import SalesforceConfig
from rgsync.providers.salesforce.crm import SalesforceCrm

SalesforceConnection = SalesforceConfig
"""The typed `[salesforce]` connection config (an alias: the sign-in config is exactly that)."""


def zone_of(name: str) -> tzinfo:
    """The mailbox time zone the CRM writes dates in; UTC when the name is not a known zone."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def open_salesforce(
    config: SalesforceConfig, store: CredentialStore, options: ProfileOptions | None = None
) -> SalesforceCrm:
    """The Salesforce adapter for `config`, signing in from `store` at its first call (not here)."""
    options = options or ProfileOptions()
    return SalesforceCrm(config, store, email_mode=options.email_mode, time_zone=zone_of(options.time_zone))
