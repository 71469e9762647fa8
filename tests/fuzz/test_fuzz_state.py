"""The state store opened on damaged databases: random values written into every column, tables
dropped, the file truncated or its bytes flipped. Opening, verifying, reading and checking may
only fail with the project's own one-line errors (SPEC §7.1, §8)."""

from __future__ import annotations

import functools
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rgsync.model import IssueItem, IssueReport, IssueSource, Link, Severity, Side, Stream
from rgsync.state import StateStore
from rgsync.state.check import check_state
from tests.fuzz.fuzz_support import USER_ERRORS, fuzz, nasty_text, profile_world, tried

TABLES = {
    "meta": ("key", "value"),
    "links": ("stream", "mailbox_id", "salesforce_id", "origin", "fields", "natural_key"),
    "cursors": ("stream", "side", "token", "updated_at"),
    "journal": ("stream", "side", "kind", "natural_key", "payload", "created_at"),
    "threads": ("thread_id", "who_ids", "what_id"),
    "sessions": ("started_at", "ended_at", "status", "dry_run", "summary"),
    "issues": ("code", "severity", "source", "stream", "first_seen", "last_seen", "count", "resolved_at"),
}


@functools.cache
def sound_database() -> Path:
    """A database holding a row in every table, built once per process."""
    path = Path(tempfile.mkdtemp(prefix="rgsync-fuzz-db-")) / "state.sqlite3"
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with StateStore.open(path) as store:
        store.set_meta("next_due_at", now.isoformat())
        store.paused = True
        store.put_link(Link(Stream.EMAILS, "m1", "00T1", Side.MAILBOX, {"subject": "s"}, "<a@b>"))
        store.set_cursor(Stream.EMAILS, Side.MAILBOX, "42")
        store.add_intent(Stream.EVENTS, Side.SALESFORCE, "create", "uid-1", {"x": 1}, now)
        store.track_thread("t1", ("003A",), "006B")
        session = store.start_session(now)
        store.finish_session(session, now, "completed", {"streams": {}})
        store.record_issue(
            IssueReport(
                code="SF-VALIDATION",
                severity=Severity.ERROR,
                source=IssueSource.SALESFORCE,
                stream=Stream.EMAILS,
                item=IssueItem(kind="email", subject="s", mailbox_id="m1"),
                message="m",
                advice="a",
            ),
            now,
        )
    return path


values = st.one_of(
    nasty_text,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.binary(max_size=20),
    st.none(),
    st.sampled_from(['"abc"', "{", "[]", "null", "1e999", "-1", "0", "99", "{}", "[1]", "2026-13-45"]),
)
damage = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(sorted(TABLES)), st.data()),
    st.tuples(st.just("drop"), st.sampled_from(sorted(TABLES)), st.none()),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.none()),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255)),
)


def _apply(path: Path, kind: str, where: Any, extra: Any) -> None:
    if kind in ("truncate", "flip"):
        raw = bytearray(path.read_bytes())
        if not raw:
            return
        offset = min(int(where * len(raw)), len(raw) - 1)
        if kind == "truncate":
            path.write_bytes(bytes(raw[:offset]))
        else:
            raw[offset] = extra
            path.write_bytes(bytes(raw))
        return
    connection = sqlite3.connect(path)
    try:
        if kind == "drop":
            connection.execute(f"DROP TABLE {where}")
        else:
            column = extra.draw(st.sampled_from(TABLES[where]))
            connection.execute(f"UPDATE {where} SET {column} = ?", (extra.draw(values),))
        connection.commit()
    except (sqlite3.Error, UnicodeDecodeError):
        pass  # this damage could not be made on top of the earlier ones: the file stays as it was
    finally:
        connection.close()


def _use(path: Path) -> None:
    with StateStore.open(path) as store:
        store.verify()
        _ = store.paused, store.last_session(), store.sessions(), store.open_issue_count()
        store.issues(include_resolved=True)
        store.get_meta("next_due_at")
        store.pending_intents()
        store.tracked_threads()
        for stream in Stream:
            store.links(stream)
            for side in Side:
                store.cursor(stream, side)


@fuzz(40)
@given(damages=st.lists(damage, min_size=1, max_size=3))
def test_damaged_state_gives_user_errors_only(damages: list[tuple[str, Any, Any]]) -> None:
    with profile_world() as profile:
        tried("state database")
        path = profile / "state" / "state.sqlite3"
        path.parent.mkdir()
        shutil.copyfile(sound_database(), path)
        for kind, where, extra in damages:
            _apply(path, kind, where, extra)
        report = check_state(path)
        try:
            _use(path)
        except USER_ERRORS as exc:
            assert "\n" not in exc.message.strip()
            # What the check calls sound, a session must be able to use.
            assert not report.sound, f"state check called it sound, but: {exc.message}"
