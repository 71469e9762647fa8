"""Writing to the org: sObject Collections, ≤ 200 records a call, one WriteResult per write.

`core.Writer` is `Crm.apply` (its module docstring says how writes are sent, refused and retried).
It builds on `prepare` (writes → sObject records), `prefetch` (the batched lookups that needs),
`sending` (Collections calls and their answers) and `batches` (how writes are cut into calls).
"""

from rgsync.providers.salesforce.writes.batches import BATCH, MAX_CHUNKS, Key
from rgsync.providers.salesforce.writes.core import Writer
from rgsync.providers.salesforce.writes.prepare import KIND_SOBJECT
from rgsync.providers.salesforce.writes.sending import DUPLICATE_RULE_HEADER, ERROR_CODES, GONE, error_code

__all__ = [
    "BATCH",
    "DUPLICATE_RULE_HEADER",
    "ERROR_CODES",
    "GONE",
    "KIND_SOBJECT",
    "MAX_CHUNKS",
    "Key",
    "Writer",
    "error_code",
]
