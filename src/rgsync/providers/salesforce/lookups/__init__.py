"""Batched lookups: people by address, Accounts, Opportunities, and records by natural key.

Every lookup sends many values per SOQL `IN` list, chunked to stay under the URI limit, and
bundles the chunks into Composite requests of up to five queries (SPEC §3.3, §10).

Modules: `directory` (people, Accounts, Opportunities), `events` (Events by natural key,
invitations, colleagues' meetings), `core` (`Lookups` itself and `find_existing`, with the list
of natural keys).
"""

from rgsync.providers.salesforce.lookups.core import EMAIL_TASK_LOOKBACK, Lookups
from rgsync.providers.salesforce.mapping import KEY_MAX

__all__ = ["EMAIL_TASK_LOOKBACK", "KEY_MAX", "Lookups"]
