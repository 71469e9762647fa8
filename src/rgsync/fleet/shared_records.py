"""Org-wide claims on shared meetings and emails, in the fleet database (SPEC §3.7, §4.2, §7.1).

A customer meeting that three colleagues attend sits in three calendars; an email sent to two
colleagues sits in two mailboxes. The fleet sees every mailbox, so it saves each once: one Event
per meeting (the colleagues related to it), one EmailMessage per Internet Message-ID (a relation
for each colleague). `rgsync_fleet_shared` holds one row per such thing:

* `kind` — `event` or `email`; `key` — the meeting's iCalendar UID and its start in UTC
  (`engine.shared.meeting_claim_key`), or the email's Message-ID. The pair is the primary key, and
  that unique key is what decides who creates: the session whose `INSERT … ON CONFLICT DO
  NOTHING` inserted the row is the creator, every other session joins;
* `holder` — the fleet user whose session holds the claim, `claimed_at` — since when;
* `record_id` / `owner_id` — the Salesforce record and its owner, filled in by the creator once
  the record exists. A session that finds them relates its user to that record with no query.

A claim without a record id is a create in flight. Other sessions wait a little for it, then
leave that item to their next session — they never create a second record. A claim left behind
by a session that died is taken over: by its own user's next session at once (the fleet's user
lock says the old session is gone), by anyone once it is older than `stale_after`. A session that
takes a claim over first looks for the record by the fallback query (the dead creator may have
created it just before dying), so a takeover never duplicates either.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rgsync.errors import UsageError
from rgsync.session.shared import Claim, ClaimResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS rgsync_fleet_shared (
    kind text NOT NULL,
    key text NOT NULL,
    holder text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    record_id text,
    owner_id text,
    filled_at timestamptz,
    PRIMARY KEY (kind, key)
);
"""

# A create takes a Composite call or two; a claim without its record this long after it was
# taken belongs to a session that died.
STALE_AFTER_SECONDS = 600.0
# How long a session waits for a colleague's create in flight before leaving the item to its next
# session, and how often it looks meanwhile.
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.2


def create_schema(url: str) -> None:
    """Create the claims table (idempotent); run by `fleet init` and at worker start. A database
    that cannot be reached is one clear line (`FleetStore.connect`)."""
    from rgsync.fleet.store import FleetStore

    with FleetStore(url).connect() as db:
        db.execute(SCHEMA)


class PostgresSharedRecords:
    """The fleet's `SharedRecords` (see `rgsync.session.shared`) for one user's session.

    One connection for the session, autocommit: every statement is its own short transaction, so
    no claim is held by an open transaction and a killed worker leaves only committed rows.
    """

    def __init__(
        self,
        url: str,
        holder: str,
        *,
        stale_after: float = STALE_AFTER_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.url = url
        self.holder = holder
        self.stale_after = stale_after
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self._db: Any = None

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        from rgsync.fleet.store import take_connection

        if self._db is None or self._db.closed:
            self._db = take_connection(self.url)
        yield self._db

    def close(self) -> None:
        """Done with the session's connection (claims stay: they are committed rows)."""
        from rgsync.fleet.store import release_connection

        if self._db is not None:
            release_connection(self.url, self._db)
            self._db = None

    def lookup(self, kind: str, keys: Collection[str]) -> dict[str, Claim]:
        """The claims on these keys, by key (keys nobody claimed are absent)."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        with self._connection() as db:
            rows = db.execute(
                "SELECT key, holder, record_id, owner_id, "
                "claimed_at < clock_timestamp() - make_interval(secs => %s) "
                "FROM rgsync_fleet_shared WHERE kind = %s AND key = ANY(%s)",
                (self.stale_after, kind, wanted),
            ).fetchall()
        return {
            str(key): Claim(str(key), str(holder), record_id or None, owner_id or None, bool(stale))
            for key, holder, record_id, owner_id, stale in rows
        }

    def claim(self, kind: str, keys: Collection[str]) -> ClaimResult:
        """Claim these keys for creating: new claims, and takeovers of claims left without a record
        by a dead session (this user's own at once, anyone's once stale). The rest are others'."""
        wanted = sorted(set(keys))
        if not wanted:
            return ClaimResult(frozenset(), frozenset())
        with self._connection() as db:
            inserted = db.execute(
                "INSERT INTO rgsync_fleet_shared (kind, key, holder) SELECT %s, k, %s FROM unnest(%s::text[]) k "
                "ON CONFLICT (kind, key) DO NOTHING RETURNING key",
                (kind, self.holder, wanted),
            ).fetchall()
            new = frozenset(str(r[0]) for r in inserted)
            rest = [k for k in wanted if k not in new]
            taken: frozenset[str] = frozenset()
            if rest:
                # One UPDATE decides between sessions racing for the same stale claim: the row
                # lock makes the second re-check the condition after the first's change.
                rows = db.execute(
                    "UPDATE rgsync_fleet_shared SET holder = %s, claimed_at = clock_timestamp() "
                    "WHERE kind = %s AND key = ANY(%s) AND record_id IS NULL AND (holder = %s "
                    "OR claimed_at < clock_timestamp() - make_interval(secs => %s)) RETURNING key",
                    (self.holder, kind, rest, self.holder, self.stale_after),
                ).fetchall()
                taken = frozenset(str(r[0]) for r in rows)
        return ClaimResult(new, taken)

    def fill(self, kind: str, records: Mapping[str, tuple[str, str]]) -> None:
        """Record the Salesforce record (id, owner id) of claims this session holds."""
        if not records:
            return
        with self._connection() as db, db.transaction():
            for key, (record_id, owner_id) in sorted(records.items()):
                db.execute(
                    "UPDATE rgsync_fleet_shared SET record_id = %s, owner_id = %s, filled_at = clock_timestamp() "
                    "WHERE kind = %s AND key = %s AND (record_id IS NULL OR holder = %s)",
                    (record_id, owner_id, kind, key, self.holder),
                )

    def release(self, kind: str, keys: Collection[str]) -> None:
        """Give up claims this session took but did not use (nothing created for them)."""
        wanted = sorted(set(keys))
        if not wanted:
            return
        with self._connection() as db:
            db.execute(
                "DELETE FROM rgsync_fleet_shared WHERE kind = %s AND key = ANY(%s) AND holder = %s "
                "AND record_id IS NULL",
                (kind, wanted, self.holder),
            )

    def forget(self, kind: str, record_ids: Collection[str]) -> None:
        """Drop the claims naming records Salesforce says are gone (deleted since they were saved)."""
        wanted = sorted(set(record_ids))
        if not wanted:
            return
        with self._connection() as db:
            db.execute(
                "DELETE FROM rgsync_fleet_shared WHERE kind = %s AND record_id = ANY(%s)", (kind, wanted)
            )

    def wait_for(self, kind: str, keys: Collection[str]) -> dict[str, Claim]:
        """Wait up to `wait_seconds` for colleagues' creates in flight; the claims as last seen."""
        pending = set(keys)
        seen: dict[str, Claim] = {}
        deadline = time.monotonic() + self.wait_seconds
        while pending:
            found = self.lookup(kind, pending)
            seen.update(found)
            # A claim released meanwhile (the colleague did not save it after all) is left too.
            pending = {k for k in pending if k in found and found[k].record_id is None}
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(self.poll_seconds)
        return seen


def shared_records_options() -> dict[str, float]:
    """The claim timings, from the environment where set (seconds): RGSYNC_SHARED_STALE_AFTER —
    when a claim without its record counts as left by a dead session; RGSYNC_SHARED_WAIT — how long
    a session waits for a colleague's create in flight."""
    options: dict[str, float] = {}
    for name, option in (
        ("RGSYNC_SHARED_STALE_AFTER", "stale_after"),
        ("RGSYNC_SHARED_WAIT", "wait_seconds"),
    ):
        raw = os.environ.get(name, "").strip()
        if raw:
            try:
                options[option] = max(0.0, float(raw))
            except ValueError:
                raise UsageError(f"{name}={raw!r} is not a number of seconds; set it to e.g. 5") from None
    return options
