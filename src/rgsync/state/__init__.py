"""What rgsync remembers between sessions: links, cursors, journal, sessions, issues, the run lock.

One SQLite database per profile (`Paths.state_db`), opened with `StateStore.open`; the run lock
is a `ProfileLock` on `Paths.lock_file`.
"""

from rgsync.state.issues import hide_secrets
from rgsync.state.lock import ProfileLock
from rgsync.state.records import Intent, SessionRecord, StateStoreError, StoredIssue
from rgsync.state.schema import SCHEMA_VERSION
from rgsync.state.store import StateStore

__all__ = [
    "SCHEMA_VERSION",
    "Intent",
    "ProfileLock",
    "SessionRecord",
    "StateStore",
    "StateStoreError",
    "StoredIssue",
    "hide_secrets",
]
