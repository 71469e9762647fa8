"""The People API v1 emulator: the user's contacts ("connections") and contact groups.

Reproduced for a sync client: personFields is required on reads; connections.list pages and hands
out a sync token (requestSyncToken) whose incremental listing includes deleted contacts with
`metadata.deleted: true`; `expire_sync_tokens()` makes old tokens fail with 400 FAILED_PRECONDITION /
EXPIRED_SYNC_TOKEN; updateContact checks the etag (optimistic concurrency) and replaces only the
fields named in updatePersonFields; batch methods keep Google's caps (200 create, 200 update,
500 delete); every contact is in contactGroups/myContacts.

The package: `fields` (the person fields, caps and the API's error shapes), `store` (the contacts
and contact groups, what Google derives, etags and the change journal) and `handlers` (the HTTP
methods, field masks included).
"""

from rgsync.sandbox.google.people.handlers import routes
from rgsync.sandbox.google.people.store import PeopleStore

__all__ = ["PeopleStore", "routes"]
