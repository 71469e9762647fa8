"""The Salesforce adapter: the `Crm` protocol over simple-salesforce (SPEC §3.7, §4–§7, §9, §10).

Modules:

* `auth` — sign-in flows (session id, password, JWT bearer, OAuth web flow with PKCE), the
  credential names, silent token renewal.
* `client` — the one requests.Session, simple-salesforce on it, error mapping in one place,
  Composite and query paging, API usage and call counting.
* `soql` — every value placed in SOQL is escaped here; IN lists chunked under the URI limit.
* `reads` / `cursor` — the bundled delta read (one Composite call per idle session) and its cursor.
* `lookups` — people, Accounts, Opportunities, records by natural key, meetings.
* `writes` / `mapping` — sObject Collections writes and the domain ↔ sObject field mapping.
* `doctor` — the Salesforce checks of `rgsync doctor`.

`open_crm(settings, paths)` is what `rgsync.registry` calls.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rgsync.credentials import CredentialStore
from rgsync.paths import Paths
from rgsync.providers.salesforce.auth import SalesforceConfig
from rgsync.providers.salesforce.crm import SalesforceCrm
from rgsync.providers.salesforce.mapping import RGSYNC_KEY_FIELD

__all__ = ["RGSYNC_KEY_FIELD", "SalesforceConfig", "SalesforceCrm", "config_of", "open_crm"]


def config_of(settings: Any) -> SalesforceConfig:
    """The `[salesforce]` table of loaded settings, typed."""
    return SalesforceConfig.from_table(settings.salesforce.table())


def _time_zone(settings: Any) -> tzinfo:
    name = str(settings.time_zone or "UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def open_crm(settings: Any, paths: Paths) -> SalesforceCrm:
    """The Salesforce adapter for a profile: settings' `[salesforce]` table + its credentials.

    Nothing is sent here: the first call signs in (from the stored token when there is one).
    """
    email_mode = str(settings.save_emails_as)
    return SalesforceCrm(
        config_of(settings),
        CredentialStore(paths.profile, paths.credentials_file),
        email_mode=email_mode,
        time_zone=_time_zone(settings),
    )
