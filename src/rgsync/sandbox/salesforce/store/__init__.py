"""The emulated org: sObject metadata, records keyed by Id, and the rules Salesforce applies on save.

Records are kept as dicts of canonical field name → Python value (str, bool, int, float, `date`,
aware `datetime`, or None). Deleted records stay with IsDeleted = true (for queryAll and
getDeleted) until purged. Every write goes through `insert`/`update`/`delete`, which refuse what
Salesforce refuses (unknown or read-only fields, missing required fields, too-long text,
restricted picklists, dangling references, validation rules, duplicate unique values) with
`RecordError`, or with `RequestError` when the payload itself could not be read.

Tests use the same methods to set up and inspect an org directly: `org.insert('Contact', {...})`,
`org.records('Task')`, `org.get(id)`, `org.update(id, {...})`, `org.delete(id)`.

`Org` (org.py) is assembled from one part per concern:

- state.py        `OrgState`: the rows, metadata, Id minting and the low-level row store
- checks.py       `SaveChecks`: what a save is refused for (fields, values, references, rules)
- replication.py  `Replication`: getUpdated / getDeleted windows and purging the recycle bin
- allocation.py   `ApiAllocation`: the daily API request allocation
- savepoints.py   `Savepoints`: allOrNone savepoints, release and rollback
- org.py          `Org`: reading and writing records, list views and validation rules
"""

from .org import Org

__all__ = ["Org"]
