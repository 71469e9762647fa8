"""The profile's run lock on either backend (SPEC §2 step 1): one user never runs twice at once."""

from __future__ import annotations

from contextlib import AbstractContextManager

from rgsync.paths import Paths
from rgsync.state.location import PostgresLocation, state_location


def run_lock(paths: Paths) -> AbstractContextManager[object]:
    """The profile's run lock (SPEC §2 step 1): a file lock next to a SQLite state, an advisory
    lock keyed by the profile in PostgreSQL (so two machines never run one user at once)."""
    where = state_location(paths)
    if isinstance(where, PostgresLocation):
        from rgsync.state.postgres import AdvisoryLock

        return AdvisoryLock(where)
    from rgsync.state.lock import ProfileLock

    return ProfileLock(paths.lock_file)


def lock_holder(paths: Paths) -> int | None:
    """The pid of the run holding the profile's lock (0 when unknown), None when it is free."""
    where = state_location(paths)
    if isinstance(where, PostgresLocation):
        from rgsync.state.postgres import AdvisoryLock

        return AdvisoryLock.holder(where)
    from rgsync.state.lock import ProfileLock

    return ProfileLock.holder(paths.lock_file)
