"""The state store: what rgsync remembers between sessions, per profile.

Links (which mailbox item is which Salesforce record), cursors (where each side's change feed was
read up to), the journal of intents before creates (SPEC §7.1), tracked threads (SPEC §3.6),
session records, issues (SPEC §8) and small settings-like values (`meta`: pause flag, back-off,
adaptive interval, org info cache). See `db.Database` for transactions and migrations, and
`backend.StateBackend` for the engines that keep it: a SQLite file per profile (the default) or a
schema per profile in a shared PostgreSQL database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rgsync.model import HeldBack, Link, Side, Stream
from rgsync.paths import check_regular_file
from rgsync.state.backend import Row, StateBackend
from rgsync.state.check import row_findings
from rgsync.state.db import (
    SCHEMA_VERSION_KEY,
    dump_json,
    from_text,
    optional_from_text,
    stored_rows,
    to_text,
)
from rgsync.state.issues import ISSUE_COLUMNS, IssueLog, issue_from_row
from rgsync.state.location import PostgresLocation, StateLocation
from rgsync.state.records import Intent, NewIntent, SessionRecord, StateDamagedError, StoredIssue
from rgsync.state.sqlite_backend import SqliteBackend

PAUSED_KEY = "paused"
SESSION_RUNNING = "running"


@stored_rows("sessions")
def _session_from_row(row: Row) -> SessionRecord:
    summary = json.loads(row["summary"])
    if not isinstance(summary, dict):
        raise ValueError(f"session {row['id']} has a summary that is not a JSON object")
    return SessionRecord(
        id=row["id"],
        started_at=from_text(row["started_at"]),
        ended_at=optional_from_text(row["ended_at"]),
        status=str(row["status"]),
        summary=summary,
        dry_run=bool(row["dry_run"]),
    )


@stored_rows("held_back")
def _held_back_from_row(row: Row) -> HeldBack:
    return HeldBack(
        attempts=int(row["attempts"]),
        next_attempt=from_text(row["next_attempt"]),
        fingerprint=str(row["fingerprint"]),
        code=str(row["code"]),
    )


@stored_rows("meta")
def _meta_value(text: str) -> object:
    return json.loads(text)


@stored_rows("journal")
def _intent_from_row(row: Row) -> Intent:
    return Intent(
        id=row["id"],
        stream=Stream(row["stream"]),
        side=Side(row["side"]),
        kind=row["kind"],
        natural_key=row["natural_key"],
        payload=json.loads(row["payload"]),
        created_at=from_text(row["created_at"]),
    )


@stored_rows("threads")
def _thread_from_row(row: Row) -> tuple[tuple[str, ...], str | None]:
    who_ids = json.loads(row["who_ids"])
    if not isinstance(who_ids, list):
        raise ValueError(f"thread {row['thread_id']} has who_ids that are not a list")
    return tuple(str(who) for who in who_ids), row["what_id"]


# SQLite allows at least 999 bound parameters per statement; stay well below.
_IN_CHUNK = 500
_LINK_COLUMNS = ("stream", "mailbox_id", "salesforce_id", "origin", "fields", "natural_key")


def _open_backend(where: Path | StateLocation, *, create: bool) -> StateBackend | None:
    if isinstance(where, PostgresLocation):
        # Imported here: psycopg is loaded only by those who keep their state in PostgreSQL.
        from rgsync.state.postgres import PostgresBackend

        return PostgresBackend.open(where, create=create)
    return SqliteBackend.open(Path(where))


class StateStore(IssueLog):
    """One profile's state database. Open with `StateStore.open(path)`; close with `close()`.

    Every method that changes something runs in its own transaction, or inside the caller's
    `with store.transaction():` block when there is one (so a session can record a write's link,
    complete its intent and resolve its issues atomically).
    """

    @classmethod
    def open(cls, where: Path | StateLocation) -> StateStore:
        """Open a profile's state, creating and migrating it as needed.

        `where` is a SQLite file (created 0600, in a 0700 folder) or a `PostgresLocation` (one
        schema of a shared database). Raises `StateStoreError` when it is not a usable rgsync
        state, `StateUnavailableError` when the server cannot be reached.
        """
        backend = _open_backend(where, create=True)
        assert backend is not None  # created when missing
        return cls(backend)

    @classmethod
    def open_existing(cls, where: Path | StateLocation) -> StateStore | None:
        """Open the state only if it exists: None on a fresh profile, and nothing is created.

        For read-mostly views (`rgsync status`, `rgsync issues`) that must not leave files behind.
        """
        if isinstance(where, PostgresLocation):
            backend = _open_backend(where, create=False)
            return None if backend is None else cls(backend)
        path = Path(where)
        check_regular_file(path, "state file", "move it aside so rgsync can create the state database")
        if not path.is_file():
            return None
        return cls.open(path)

    def verify(self) -> None:
        """Read every stored row back as a session would; `StateDamagedError` names the first damage.

        A session calls this before it touches either side: a link, cursor or intent that cannot be
        read back must not be half-used (SPEC §7.1). The schema itself is checked at every open.
        """
        with self._errors():
            findings = row_findings(self._backend)
        if findings:
            more = f" (and {len(findings) - 1} more problem(s))" if len(findings) > 1 else ""
            raise StateDamagedError(findings[0].what + more, self.path)

    # ------------------------------------------------------------------ meta

    def get_meta(self, key: str, default: object = None) -> object:
        """A small JSON value kept under `key`, or `default` when it has never been set."""
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return default if row is None else _meta_value(row["value"])

    def set_meta(self, key: str, value: object) -> None:
        """Keep a JSON-able `value` under `key`; None removes the key."""
        if key == SCHEMA_VERSION_KEY:
            raise ValueError("the schema version is managed by migrations")
        if value is None:
            self._write("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self._replace("meta", {"key": key, "value": dump_json(value)}, ("key",))

    @property
    def paused(self) -> bool:
        """True after `rgsync pause` until `rgsync resume`: a run then touches neither side (SPEC §2)."""
        return bool(self.get_meta(PAUSED_KEY, False))

    @paused.setter
    def paused(self, value: bool) -> None:
        self.set_meta(PAUSED_KEY, True if value else None)

    # ------------------------------------------------------------------ links

    def links(self, stream: Stream) -> dict[str, Link]:
        """Every link of a stream, by mailbox id."""
        rows = self._all(
            "SELECT mailbox_id, salesforce_id, origin, fields, natural_key FROM links WHERE stream = ?",
            (stream.value,),
        )
        return {row["mailbox_id"]: _link_from_row(stream, row) for row in rows}

    def links_for(
        self, stream: Stream, mailbox_ids: Iterable[str] = (), natural_keys: Iterable[str] = ()
    ) -> dict[str, Link]:
        """The links of a stream whose mailbox id or natural key is among those given, by mailbox id.

        The emails stream grows without bound, so a session asks only about the page at hand
        instead of loading every link (SPEC §10: memory stays flat as the mailbox grows).
        """
        found: dict[str, Link] = {}
        for column, values in (
            ("mailbox_id", sorted(set(mailbox_ids))),
            ("natural_key", sorted(set(natural_keys))),
        ):
            for start in range(0, len(values), _IN_CHUNK):
                chunk = values[start : start + _IN_CHUNK]
                rows = self._all(
                    "SELECT mailbox_id, salesforce_id, origin, fields, natural_key FROM links "
                    f"WHERE stream = ? AND {column} IN ({', '.join('?' * len(chunk))})",
                    (stream.value, *chunk),
                )
                for row in rows:
                    found[row["mailbox_id"]] = _link_from_row(stream, row)
        return found

    def link_by_salesforce_id(self, stream: Stream, salesforce_id: str) -> Link | None:
        """The link of a Salesforce record in a stream, or None when it is not linked."""
        row = self._one(
            "SELECT mailbox_id, salesforce_id, origin, fields, natural_key FROM links "
            "WHERE stream = ? AND salesforce_id = ?",
            (stream.value, salesforce_id),
        )
        return None if row is None else _link_from_row(stream, row)

    def put_link(self, link: Link) -> None:
        """Record a link, replacing any link of the same stream with the same mailbox id or Salesforce id.

        An item is linked at most once per stream on each side: re-linking a record to a new mailbox
        id (the item moved, or crash recovery found it) drops its old link.
        """
        self._replace(
            "links",
            {
                "stream": link.stream.value,
                "mailbox_id": link.mailbox_id,
                "salesforce_id": link.salesforce_id,
                "origin": link.origin.value,
                "fields": dump_json(dict(link.fields)),
                "natural_key": link.natural_key,
            },
            ("stream", "mailbox_id"),
            ("stream", "salesforce_id"),
        )

    def put_links(self, links: Sequence[Link]) -> None:
        """`put_link` for many links in a few statements, with the outcome of putting them one
        after the other (a later link replaces an earlier one it collides with)."""
        self._replace_many(
            "links",
            _LINK_COLUMNS,
            [
                (
                    link.stream.value,
                    link.mailbox_id,
                    link.salesforce_id,
                    link.origin.value,
                    dump_json(dict(link.fields)),
                    link.natural_key,
                )
                for link in links
            ],
            ("stream", "mailbox_id"),
            ("stream", "salesforce_id"),
        )

    def remove_link(self, stream: Stream, mailbox_id: str) -> None:
        """Forget the link of a mailbox item (nothing happens when there is none)."""
        self._write("DELETE FROM links WHERE stream = ? AND mailbox_id = ?", (stream.value, mailbox_id))

    def linked_natural_keys(self, stream: Stream) -> set[str]:
        """The natural keys of a stream's linked items (empty keys left out)."""
        rows = self._all(
            "SELECT natural_key FROM links WHERE stream = ? AND natural_key != ''", (stream.value,)
        )
        return {row["natural_key"] for row in rows}

    # ------------------------------------------------------------------ items never saved again

    def remember_unlinked(self, stream: Stream, mailbox_id: str, salesforce_id: str, reason: str) -> None:
        """Remember that a mailbox item was unlinked because its Salesforce record was deleted (or
        left the user's scope) in Salesforce: later edits in the mailbox must not save it again."""
        self._replace(
            "unlinked_items",
            {
                "stream": stream.value,
                "mailbox_id": mailbox_id,
                "salesforce_id": salesforce_id,
                "reason": reason,
                "unlinked_at": to_text(datetime.now(UTC)),
            },
            ("stream", "mailbox_id"),
        )

    def unlinked_items(self, stream: Stream) -> dict[str, str]:
        """Mailbox id → reason, for the items of a stream that must not be saved again."""
        rows = self._all("SELECT mailbox_id, reason FROM unlinked_items WHERE stream = ?", (stream.value,))
        return {str(row["mailbox_id"]): str(row["reason"]) for row in rows}

    def forget_unlinked(self, stream: Stream, mailbox_id: str) -> None:
        """The item is linked again (or gone from the mailbox): nothing to remember any more."""
        self._write(
            "DELETE FROM unlinked_items WHERE stream = ? AND mailbox_id = ?", (stream.value, mailbox_id)
        )

    # ------------------------------------------------------------------ items held back

    def held_back(self, stream: Stream, mailbox_ids: Iterable[str] | None = None) -> dict[str, HeldBack]:
        """Mailbox id → its hold, for the given items of a stream that are held back (all when None)."""
        sql = "SELECT mailbox_id, code, attempts, next_attempt, fingerprint FROM held_back WHERE stream = ?"
        if mailbox_ids is None:
            rows = self._all(sql, (stream.value,))
        else:
            wanted = list(dict.fromkeys(mailbox_ids))
            rows = []
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                marks = ",".join("?" * len(part))
                rows += self._all(f"{sql} AND mailbox_id IN ({marks})", (stream.value, *part))
        return {str(row["mailbox_id"]): _held_back_from_row(row) for row in rows}

    def hold_back(self, stream: Stream, mailbox_id: str, hold: HeldBack) -> None:
        """Record (or renew) the hold on an item Salesforce refused for good."""
        self._replace(
            "held_back",
            {
                "stream": stream.value,
                "mailbox_id": mailbox_id,
                "code": hold.code,
                "attempts": hold.attempts,
                "next_attempt": to_text(hold.next_attempt),
                "fingerprint": hold.fingerprint,
            },
            ("stream", "mailbox_id"),
        )

    def release(self, stream: Stream, mailbox_ids: Iterable[str]) -> None:
        """Forget the holds on these items (saved at last, or gone)."""
        wanted = list(dict.fromkeys(mailbox_ids))
        if not wanted:
            return
        with self._statements(len(wanted) > _IN_CHUNK):
            for start in range(0, len(wanted), _IN_CHUNK):
                part = wanted[start : start + _IN_CHUNK]
                self._write(
                    f"DELETE FROM held_back WHERE stream = ? AND mailbox_id IN ({', '.join('?' * len(part))})",
                    (stream.value, *part),
                )

    def due_held_back(self, stream: Stream, now: datetime) -> list[str]:
        """The held-back items of a stream whose next attempt has come, oldest first."""
        # Stored times are fixed-width UTC text, so text order is time order (`db.to_text`).
        rows = self._all(
            "SELECT mailbox_id FROM held_back WHERE stream = ? AND next_attempt <= ? ORDER BY next_attempt",
            (stream.value, to_text(now)),
        )
        return [str(row["mailbox_id"]) for row in rows]

    # ------------------------------------------------------------------ cursors

    def cursor(self, stream: Stream, side: Side) -> str | None:
        """The stored change-feed position of one side of a stream; None means "list everything"."""
        row = self._one("SELECT token FROM cursors WHERE stream = ? AND side = ?", (stream.value, side.value))
        return None if row is None else str(row["token"])

    def set_cursor(self, stream: Stream, side: Side, token: str | None) -> None:
        """Store a cursor (SPEC §7.1: only once every write it covers is recorded); None forgets it."""
        if token is None:
            self._write("DELETE FROM cursors WHERE stream = ? AND side = ?", (stream.value, side.value))
        else:
            self._replace(
                "cursors",
                {
                    "stream": stream.value,
                    "side": side.value,
                    "token": token,
                    "updated_at": to_text(datetime.now(UTC)),
                },
                ("stream", "side"),
            )

    # ------------------------------------------------------------------ journal (SPEC §7.1)

    def add_intent(
        self,
        stream: Stream,
        side: Side,
        kind: str,
        natural_key: str,
        payload: dict[str, Any],
        now: datetime | None = None,
    ) -> int:
        """Record, before sending it, that a record with `natural_key` is about to be created; return its id.

        `payload` (JSON-able) is whatever recovery needs to adopt or retry the create.
        """
        return self._insert(
            "INSERT INTO journal (stream, side, kind, natural_key, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                stream.value,
                side.value,
                kind,
                natural_key,
                dump_json(payload),
                to_text(now or datetime.now(UTC)),
            ),
        )

    def add_intents(self, intents: Sequence[NewIntent], now: datetime | None = None) -> list[int]:
        """`add_intent` for many creates at once, in a few statements: their ids, in order.

        All of them are recorded, or none (one transaction, or the caller's).
        """
        created = to_text(now or datetime.now(UTC))
        return self._insert_many(
            "journal",
            ("stream", "side", "kind", "natural_key", "payload", "created_at"),
            [
                (i.stream.value, i.side.value, i.kind, i.natural_key, dump_json(i.payload), created)
                for i in intents
            ],
        )

    def complete_intent(self, intent_id: int, record_id: str) -> None:
        """The create announced by `intent_id` is done and recorded as `record_id`: the intent is removed.

        Call it in the same transaction as the `put_link` that records the new record.
        """
        del record_id  # the link written alongside keeps the id; the journal only tracks what is pending
        self._write("DELETE FROM journal WHERE id = ?", (intent_id,))

    def drop_intent(self, intent_id: int) -> None:
        """Forget an intent whose create is known not to have happened (or will be retried afresh)."""
        self._write("DELETE FROM journal WHERE id = ?", (intent_id,))

    def drop_intents(self, intent_ids: Iterable[int]) -> None:
        """`drop_intent` for many intents, in a few statements (all or none)."""
        wanted = list(dict.fromkeys(intent_ids))
        if not wanted:
            return
        with self._statements(len(wanted) > _IN_CHUNK):
            for start in range(0, len(wanted), _IN_CHUNK):
                part = wanted[start : start + _IN_CHUNK]
                self._write(f"DELETE FROM journal WHERE id IN ({', '.join('?' * len(part))})", tuple(part))

    def pending_intents(self, stream: Stream | None = None) -> list[Intent]:
        """Intents not yet completed or dropped (oldest first): left by a crash when a session starts."""
        sql = "SELECT id, stream, side, kind, natural_key, payload, created_at FROM journal"
        params: tuple[object, ...] = ()
        if stream is not None:
            sql += " WHERE stream = ?"
            params = (stream.value,)
        return [_intent_from_row(row) for row in self._all(sql + " ORDER BY id", params)]

    # ------------------------------------------------------------------ tracked threads (SPEC §3.6)

    def tracked_threads(self) -> dict[str, tuple[tuple[str, ...], str | None]]:
        """Threads whose later emails are saved too: thread id → (people ids, business record id)."""
        return {
            row["thread_id"]: _thread_from_row(row)
            for row in self._all("SELECT thread_id, who_ids, what_id FROM threads")
        }

    def track_thread(self, thread_id: str, who_ids: tuple[str, ...], what_id: str | None) -> None:
        """Start (or update) tracking a thread with the records its emails are linked to."""
        self._replace(
            "threads",
            {"thread_id": thread_id, "who_ids": dump_json(list(who_ids)), "what_id": what_id},
            ("thread_id",),
        )

    def track_threads(self, threads: Sequence[tuple[str, tuple[str, ...], str | None]]) -> None:
        """`track_thread` for many (thread id, people ids, business record id), in a few statements;
        a thread given twice keeps the later records."""
        self._replace_many(
            "threads",
            ("thread_id", "who_ids", "what_id"),
            [(thread_id, dump_json(list(who_ids)), what_id) for thread_id, who_ids, what_id in threads],
            ("thread_id",),
        )

    # ------------------------------------------------------------------ sessions

    def start_session(self, started_at: datetime, dry_run: bool = False) -> int:
        """Open a session record (status 'running'); return its id."""
        return self._insert(
            "INSERT INTO sessions (started_at, status, dry_run) VALUES (?, ?, ?)",
            (to_text(started_at), SESSION_RUNNING, int(dry_run)),
        )

    def finish_session(
        self, session_id: int, ended_at: datetime, status: str, summary: dict[str, Any]
    ) -> None:
        """Close a session record with its result and JSON-able `summary`.

        `rgsync status` reads the summary as `{"streams": {stream: {count name: n}}, "api_calls":
        {side: n}}`; other keys are shown as they are.
        """
        self._write(
            "UPDATE sessions SET ended_at = ?, status = ?, summary = ? WHERE id = ?",
            (to_text(ended_at), status, dump_json(summary), session_id),
        )

    def last_session(self, include_dry_run: bool = True) -> SessionRecord | None:
        """The most recently started session (finished or not), or None before the first run."""
        where = "" if include_dry_run else " WHERE dry_run = 0"
        row = self._one(f"SELECT * FROM sessions{where} ORDER BY id DESC LIMIT 1")
        return None if row is None else _session_from_row(row)

    def sessions(self, limit: int = 20) -> list[SessionRecord]:
        """The latest `limit` sessions, newest first."""
        return [
            _session_from_row(row)
            for row in self._all("SELECT * FROM sessions ORDER BY id DESC LIMIT ?", (limit,))
        ]

    def sessions_since(self, since: datetime, include_dry_run: bool = False) -> list[SessionRecord]:
        """Sessions started at or after `since`, oldest first (`rgsync status --history`)."""
        dry = "" if include_dry_run else " AND dry_run = 0"
        rows = self._all(f"SELECT * FROM sessions WHERE started_at >= ?{dry} ORDER BY id", (to_text(since),))
        return [_session_from_row(row) for row in rows]

    def issue_changes(self, since: datetime) -> tuple[list[StoredIssue], list[StoredIssue]]:
        """Issues first seen, and issues resolved, at or after `since`: (opened, resolved), oldest first.

        The log file and `rgsync status --history` use it to tell what each session changed.
        """
        start = to_text(since)
        opened = self._all(
            f"SELECT {ISSUE_COLUMNS} FROM issues WHERE first_seen >= ? ORDER BY first_seen, id", (start,)
        )
        resolved = self._all(
            f"SELECT {ISSUE_COLUMNS} FROM issues WHERE resolved_at >= ? ORDER BY resolved_at, id",
            (start,),
        )
        return [issue_from_row(r) for r in opened], [issue_from_row(r) for r in resolved]


@stored_rows("links")
def _link_from_row(stream: Stream, row: Row) -> Link:
    return Link(
        stream=stream,
        mailbox_id=row["mailbox_id"],
        salesforce_id=row["salesforce_id"],
        origin=Side(row["origin"]),
        fields=json.loads(row["fields"]),
        natural_key=row["natural_key"],
    )
