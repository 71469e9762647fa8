"""One user's session inside a fleet worker: the same `run_session` that `rgsync run` calls.

Around it the worker adds what a fleet needs:

* a PostgreSQL advisory lock per user, held on its own connection for the whole session, on top
  of procrastinate's job lock: two sessions of one user can never run at once, on any machine,
  even if a job were handed out twice. A worker that dies loses its connection and with it the
  lock, so nothing has to be cleaned up by hand;
* a run record (start, end, result, API calls) in `rgsync_fleet_runs`, and the figures on the
  user's row that `fleet status` shows and the scheduler reads (next due time);
* the org's admin sign-in (`rgsync.fleet.signin`) for users without a sign-in of their own;
* the org's API budget (fleet/budget.py): before the session, a reservation of its calls, or
  the session is deferred (not failed) when the org is near its floor or the user has used their
  share; afterwards the reservation is released and the session's reading of the allocation kept;
* credentials that fail (MAIL-AUTH / SF-AUTH) stop that user's scheduling with the reason, so the
  fleet does not hammer a service with a dead sign-in; `fleet add`/`import` of the user again, or
  `fleet resume NAME`, lets it run once the admin has fixed the sign-in.

A session that raises (the database went away mid-session, a bug) makes the job fail, and
procrastinate retries it; the per-user journal makes the rerun safe (SPEC §7.1).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rgsync.fleet import budget
from rgsync.fleet.home import write_profile
from rgsync.fleet.shared_records import PostgresSharedRecords, shared_records_options
from rgsync.fleet.signin import sign_in_for_user
from rgsync.fleet.store import FleetStore, user_lock_key
from rgsync.paths import Paths
from rgsync.session import RunOptions, SessionResult

log = logging.getLogger("rgsync.fleet")

AUTH_CODES = ("MAIL-AUTH", "SF-AUTH")


class UserBusyError(RuntimeError):
    """Another session of the same user holds its lock (the job is retried later)."""


@dataclass(frozen=True)
class RunOutcome:
    """What a fleet session did, for the job's result and the tests."""

    user: str
    status: str
    run_id: int
    message: str = ""


def worker_name() -> str:
    """host:pid, as the run records name the worker."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _auth_failure(result: SessionResult, open_codes: set[str]) -> str | None:
    if result.status != "failed":
        return None
    if open_codes & set(AUTH_CODES):
        return result.message or "the sign-in failed"
    return None


def run_user(
    store: FleetStore,
    home: Path,
    name: str,
    *,
    job_id: int | None = None,
    budget_recheck: timedelta = budget.DEFAULT_RECHECK,
) -> RunOutcome:
    """Run one session of fleet user `name` under its lock and record it; or defer it when the
    org's API budget has no room for it now (status "deferred", the user due again later)."""
    from rgsync.sync import run_session

    user = store.user(name)
    if user is None:
        log.info("user %s is no longer in the fleet; nothing to run", name)
        return RunOutcome(name, "removed", 0)
    if user.stopped_reason:
        return RunOutcome(name, "stopped", 0, user.stopped_reason)
    if user.next_due_at is not None and user.next_due_at > datetime.now(UTC):
        # Queued while the user's previous session ran (or before a deferral): that session
        # already set the next due time, so nothing is due and nothing is reserved.
        return RunOutcome(name, "not-due", 0)
    policy = store.get_meta("org_policy")
    with store.connect() as db:
        locked = db.execute("SELECT pg_try_advisory_lock(%s)", (user_lock_key(name),)).fetchone()
        if not locked or not locked[0]:
            raise UserBusyError(f"another session of {name} is running")
        # Users without a sign-in of their own sign in with the org's admin sign-in.
        sign_in = sign_in_for_user(home, name, user.settings, policy)
        paths = write_profile(home, name, sign_in.settings_text, policy, state_url=store.url)
        with sign_in.applied(paths):  # reading the allocation signs in as the session does
            ticket = budget.before_session(store, name, paths, recheck=budget_recheck)
        if not ticket.allowed:
            db.execute("SELECT pg_advisory_unlock(%s)", (user_lock_key(name),))
            log.info("user %s %s", name, ticket.message)
            return RunOutcome(name, "deferred", 0, ticket.message)
        run_id = store.start_run(db, name, job_id, worker_name())
        # Meetings and emails colleagues share are saved once for the org (fleet.shared_records).
        try:
            shared = PostgresSharedRecords(store.url, name, **shared_records_options())
            try:
                with sign_in.applied(paths):
                    result = run_session(paths, RunOptions(), shared=shared)
            finally:
                shared.close()
        finally:
            budget.after_session(store, ticket, paths)
        open_codes = _open_issue_codes(paths)
        stopped = _auth_failure(result, open_codes)
        store.finish_run(
            db,
            run_id,
            name,
            status=result.status,
            message=result.message,
            api_salesforce=int(result.api_calls.get("salesforce", 0)),
            api_mailbox=int(result.api_calls.get("mailbox", 0)),
            changes=result.changes,
            started_at=result.started_at,
            next_due_at=result.next_due_at,
            open_issues=result.open_issues,
        )
        if stopped:
            store.set_stopped(name, stopped)
            log.warning("user %s stopped: %s", name, stopped)
        db.execute("SELECT pg_advisory_unlock(%s)", (user_lock_key(name),))
    return RunOutcome(name, result.status, run_id, result.message)


def _open_issue_codes(paths: Paths) -> set[str]:
    """The codes of the user's open issues (read-only view of the user's state)."""
    from rgsync.state import StateStore, state_location

    state = StateStore.open(state_location(paths))
    try:
        return {issue.code for issue in state.issues()}
    finally:
        state.close()
