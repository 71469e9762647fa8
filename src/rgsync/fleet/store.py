"""The fleet's own tables in the shared PostgreSQL database: users, their settings layer, runs.

* `rgsync_fleet_users`: one row per user — mailbox kind, address, Salesforce username, the user's
  own settings layer (TOML text, layered under the org policy exactly like a settings file), when
  the next session is due, why the user is stopped (credentials that failed), and the figures of
  the last session for `fleet status`;
* `rgsync_fleet_runs`: one row per session a worker ran (user, job, worker, start, end, result,
  API calls): the record `fleet status` and the overlap check read;
* `rgsync_fleet_meta`: the org policy (TOML text) and the schema version.

Every write is its own short transaction: a worker never holds a transaction open across a
session, so a PostgreSQL restart costs at most the write in flight.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from rgsync.errors import UsageError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS rgsync_fleet_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS rgsync_fleet_users (
    name text PRIMARY KEY,
    mailbox text NOT NULL,
    address text NOT NULL,
    salesforce_username text NOT NULL,
    settings text NOT NULL DEFAULT '',
    added_at timestamptz NOT NULL DEFAULT now(),
    next_due_at timestamptz,
    stopped_reason text,
    last_status text,
    last_started_at timestamptz,
    last_ended_at timestamptz,
    last_message text NOT NULL DEFAULT '',
    open_issues integer NOT NULL DEFAULT 0,
    api_calls_salesforce bigint NOT NULL DEFAULT 0,
    api_calls_mailbox bigint NOT NULL DEFAULT 0,
    sessions bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rgsync_fleet_runs (
    id bigserial PRIMARY KEY,
    user_name text NOT NULL,
    job_id bigint,
    worker text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at timestamptz,
    status text NOT NULL DEFAULT 'running',
    message text NOT NULL DEFAULT '',
    api_calls_salesforce integer NOT NULL DEFAULT 0,
    api_calls_mailbox integer NOT NULL DEFAULT 0,
    changes integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS rgsync_fleet_runs_user ON rgsync_fleet_runs (user_name, started_at);
"""


def check_state_url(url: str) -> str:
    """Return `url` when it is a PostgreSQL URL without a password; `UsageError` naming the fix otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise UsageError(
            f"state URL {parts.scheme or url!r}… is not a PostgreSQL URL; use postgresql://USER@HOST/DATABASE"
        )
    if parts.password:
        raise UsageError(
            "the state URL holds a password; remove it and put it in a PGPASSFILE (~/.pgpass) or a "
            "libpq service file instead"
        )
    return url


def user_lock_key(name: str) -> int:
    """The advisory-lock key of a user's sessions (stable across machines and Python versions)."""
    return zlib.crc32(f"rgsync-fleet-user:{name}".encode()) - 2**31


@dataclass(frozen=True)
class FleetUser:
    """One user of the fleet as stored."""

    name: str
    mailbox: str
    address: str
    salesforce_username: str
    settings: str
    next_due_at: datetime | None = None
    stopped_reason: str | None = None
    last_status: str | None = None
    last_started_at: datetime | None = None
    last_ended_at: datetime | None = None
    last_message: str = ""
    open_issues: int = 0
    api_calls_salesforce: int = 0
    api_calls_mailbox: int = 0
    sessions: int = 0


_USER_COLUMNS = (
    "name, mailbox, address, salesforce_username, settings, next_due_at, stopped_reason, last_status, "
    "last_started_at, last_ended_at, last_message, open_issues, api_calls_salesforce, api_calls_mailbox, sessions"
)


class FleetStore:
    """The fleet tables behind one PostgreSQL URL (psycopg 3, autocommit, one short statement at a time)."""

    def __init__(self, url: str) -> None:
        self.url = check_state_url(url)

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A connection (fresh, or one this worker reuses: `state.pg_reuse`); a database that
        cannot be reached is one clear line (exit 1)."""
        import psycopg

        from rgsync.errors import RgsyncError

        try:
            connection = take_connection(self.url)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RgsyncError(
                f"cannot reach the fleet database ({first}); check --state-url and that PostgreSQL runs"
            ) from None
        try:
            yield connection
        finally:
            release_connection(self.url, connection)

    def create_schema(self) -> None:
        """Create the fleet tables (idempotent)."""
        with self.connect() as db:
            db.execute(SCHEMA)
            db.execute(
                "INSERT INTO rgsync_fleet_meta (key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (str(SCHEMA_VERSION),),
            )

    def get_meta(self, key: str) -> str | None:
        with self.connect() as db:
            row = db.execute("SELECT value FROM rgsync_fleet_meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        with self.connect() as db:
            if value is None:
                db.execute("DELETE FROM rgsync_fleet_meta WHERE key = %s", (key,))
            else:
                db.execute(
                    "INSERT INTO rgsync_fleet_meta (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (key, value),
                )

    # --- users ------------------------------------------------------------------------------------

    def upsert_users(self, users: list[FleetUser]) -> None:
        """Add users, or replace the connection and settings of those already there (one transaction)."""
        with self.connect() as db, db.transaction(), db.cursor() as cursor:
            # One round trip for the whole roster (psycopg pipelines executemany).
            cursor.executemany(
                "INSERT INTO rgsync_fleet_users (name, mailbox, address, salesforce_username, settings) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET mailbox = EXCLUDED.mailbox, "
                "address = EXCLUDED.address, salesforce_username = EXCLUDED.salesforce_username, "
                "settings = EXCLUDED.settings, stopped_reason = NULL",
                [(u.name, u.mailbox, u.address, u.salesforce_username, u.settings) for u in users],
            )

    def remove_user(self, name: str) -> bool:
        """Remove a user (its run history stays); False when there was none."""
        with self.connect() as db:
            cursor = db.execute("DELETE FROM rgsync_fleet_users WHERE name = %s", (name,))
            return bool(cursor.rowcount)

    def users(self) -> list[FleetUser]:
        """Every user, by name."""
        with self.connect() as db:
            rows = db.execute(f"SELECT {_USER_COLUMNS} FROM rgsync_fleet_users ORDER BY name").fetchall()
        return [FleetUser(*row) for row in rows]

    def user(self, name: str) -> FleetUser | None:
        with self.connect() as db:
            row = db.execute(
                f"SELECT {_USER_COLUMNS} FROM rgsync_fleet_users WHERE name = %s", (name,)
            ).fetchone()
        return None if row is None else FleetUser(*row)

    def set_settings(self, name: str, text: str) -> None:
        with self.connect() as db:
            db.execute("UPDATE rgsync_fleet_users SET settings = %s WHERE name = %s", (text, name))

    def replace_settings(self, name: str, old: str, new: str) -> bool:
        """Replace the user's settings layer only if it is still `old` (another admin may have
        changed it meanwhile); False when it was not."""
        with self.connect() as db:
            cursor = db.execute(
                "UPDATE rgsync_fleet_users SET settings = %s WHERE name = %s AND settings = %s",
                (new, name, old),
            )
            return bool(cursor.rowcount)

    def set_stopped(self, name: str, reason: str | None) -> None:
        """Stop scheduling a user (credentials failed) or, with None, let it run again."""
        with self.connect() as db:
            db.execute("UPDATE rgsync_fleet_users SET stopped_reason = %s WHERE name = %s", (reason, name))

    def due_users(self, now: datetime) -> list[str]:
        """Users not stopped whose next session is due (or never ran)."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT name FROM rgsync_fleet_users WHERE stopped_reason IS NULL "
                "AND (next_due_at IS NULL OR next_due_at <= %s) ORDER BY next_due_at NULLS FIRST, name",
                (now,),
            ).fetchall()
        return [str(row[0]) for row in rows]

    # --- runs ------------------------------------------------------------------------------------

    def start_run(self, db: Any, name: str, job_id: int | None, worker: str) -> int:
        """Record that `worker` starts a session of `name`; runs left open by a killed worker are closed.

        The caller holds the user's lock, so an open run of the same user belongs to a worker that
        is gone (its job was found stalled and handed on).
        """
        db.execute(
            "UPDATE rgsync_fleet_runs SET ended_at = clock_timestamp(), status = 'abandoned', "
            "message = 'the worker stopped during the session' WHERE user_name = %s AND ended_at IS NULL",
            (name,),
        )
        row = db.execute(
            "INSERT INTO rgsync_fleet_runs (user_name, job_id, worker) VALUES (%s, %s, %s) RETURNING id",
            (name, job_id, worker),
        ).fetchone()
        return int(row[0])

    def finish_run(
        self,
        db: Any,
        run_id: int,
        name: str,
        *,
        status: str,
        message: str,
        api_salesforce: int,
        api_mailbox: int,
        changes: int,
        started_at: datetime | None,
        next_due_at: datetime | None,
        open_issues: int,
    ) -> None:
        """Close the run and copy its figures to the user's row (one transaction)."""
        with db.transaction():
            db.execute(
                "UPDATE rgsync_fleet_runs SET ended_at = clock_timestamp(), status = %s, message = %s, "
                "api_calls_salesforce = %s, api_calls_mailbox = %s, changes = %s WHERE id = %s",
                (status, message, api_salesforce, api_mailbox, changes, run_id),
            )
            db.execute(
                "UPDATE rgsync_fleet_users SET last_status = %s, last_message = %s, "
                "last_started_at = COALESCE(%s, last_started_at), last_ended_at = clock_timestamp(), "
                "next_due_at = COALESCE(%s, next_due_at), open_issues = %s, "
                "api_calls_salesforce = api_calls_salesforce + %s, api_calls_mailbox = api_calls_mailbox + %s, "
                "sessions = sessions + 1 WHERE name = %s",
                (status, message, started_at, next_due_at, open_issues, api_salesforce, api_mailbox, name),
            )

    def runs(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every recorded run (of one user), oldest first."""
        query = (
            "SELECT id, user_name, job_id, worker, started_at, ended_at, status, message, "
            "api_calls_salesforce, api_calls_mailbox, changes FROM rgsync_fleet_runs"
        )
        with self.connect() as db:
            if name is None:
                cursor = db.execute(query + " ORDER BY started_at, id")
            else:
                cursor = db.execute(query + " WHERE user_name = %s ORDER BY started_at, id", (name,))
            columns = [c.name for c in cursor.description or []]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def overlapping_runs(runs: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Pairs of run ids of one user whose [start, end] intervals overlap (an open run counts as running)."""
    by_user: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_user.setdefault(str(run["user_name"]), []).append(run)
    pairs: list[tuple[int, int]] = []
    for user_runs in by_user.values():
        user_runs.sort(key=lambda r: r["started_at"])
        for earlier, later in itertools.pairwise(user_runs):
            ended = earlier["ended_at"]
            if ended is None or later["started_at"] < ended:
                pairs.append((int(earlier["id"]), int(later["id"])))
    return pairs


def take_connection(url: str) -> Any:
    """An autocommit connection to the fleet database: one this worker kept (`state.pg_reuse`),
    or a new one. The fleet's tables and its shared claims share these."""
    import psycopg

    from rgsync.state import pg_reuse

    return pg_reuse.take(("fleet", url)) or psycopg.connect(url, autocommit=True, connect_timeout=10)


def release_connection(url: str, connection: Any) -> None:
    """Done with a connection from `take_connection`: kept for reuse in a worker, else closed."""
    from rgsync.state import pg_reuse

    pg_reuse.release(("fleet", url), connection)
