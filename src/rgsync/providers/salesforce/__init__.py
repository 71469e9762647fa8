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
* `connection` / `connect` / `descriptor` — opening the org, the sign-in flow, the registration.

`descriptor.DESCRIPTOR` is what `rgsync.registry` lists; `connection.open_salesforce` is the one
place the org is opened; `connect` is the sign-in flow of `rgsync connect salesforce`.
"""

from __future__ import annotations

from rgsync.providers.salesforce.auth import SalesforceConfig
from rgsync.providers.salesforce.connection import SalesforceConnection, open_salesforce
from rgsync.providers.salesforce.crm import SalesforceCrm
from rgsync.providers.salesforce.mapping import RGSYNC_KEY_FIELD

__all__ = ["RGSYNC_KEY_FIELD", "SalesforceConfig", "SalesforceConnection", "SalesforceCrm", "open_salesforce"]
