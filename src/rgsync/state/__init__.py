"""What rgsync remembers between sessions: links, cursors, journal, sessions, issues, the run lock.

Per profile, in a SQLite file (`Paths.state_db`, the default) or in a schema of a shared
PostgreSQL database (a `state-url`, see `state.location`); opened with `StateStore.open`. The run
lock is `run_lock(paths)`: a `ProfileLock` on `Paths.lock_file`, or an advisory lock in PostgreSQL.
"""

from rgsync.state.backend import StateBackend
from rgsync.state.issues import hide_secrets
from rgsync.state.location import (
    STATE_URL_ENV,
    STATE_URL_KEY,
    PostgresLocation,
    StateLocation,
    StateUrlError,
    keep_password,
    parse_state_url,
    state_location,
)
from rgsync.state.lock import ProfileLock
from rgsync.state.records import (
    Intent,
    NewIntent,
    SessionRecord,
    StateStoreError,
    StateUnavailableError,
    StoredIssue,
)
from rgsync.state.run_lock import lock_holder, run_lock
from rgsync.state.schema import SCHEMA_VERSION
from rgsync.state.store import StateStore

__all__ = [
    "SCHEMA_VERSION",
    "STATE_URL_ENV",
    "STATE_URL_KEY",
    "Intent",
    "NewIntent",
    "PostgresLocation",
    "ProfileLock",
    "SessionRecord",
    "StateBackend",
    "StateLocation",
    "StateStore",
    "StateStoreError",
    "StateUnavailableError",
    "StateUrlError",
    "StoredIssue",
    "hide_secrets",
    "keep_password",
    "lock_holder",
    "parse_state_url",
    "run_lock",
    "state_location",
]
