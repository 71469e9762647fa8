"""The state store: schema migrations, private files, transactions, links, cursors, journal, sessions.

DESIGN "State store"; SPEC §2 (pause), §3.6 (tracked threads), §7.1 (journal, cursors after writes).
Every test taking `where` runs on both backends: a SQLite file and a PostgreSQL schema. Those
taking `db_path` are about the SQLite file itself (modes, WAL, a file that is no database).
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import rgsync.state.db as state_db
from rgsync.model import HeldBack, Link, Side, Stream
from rgsync.state import SCHEMA_VERSION, PostgresLocation, StateStore, StateStoreError
from rgsync.state.schema import MIGRATIONS
from tests.postgres_cluster import raw_sql

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "profile" / "state" / "state.sqlite3"


@pytest.fixture
def where(state_where: Path | PostgresLocation) -> Path | PostgresLocation:
    """The state of one profile: a SQLite file, then a PostgreSQL schema."""
    return state_where


@pytest.fixture
def store(where: Path | PostgresLocation) -> Iterator[StateStore]:
    opened = StateStore.open(where)
    yield opened
    opened.close()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def link(
    mailbox_id: str, salesforce_id: str, fields: dict[str, str] | None = None, natural_key: str = ""
) -> Link:
    return Link(
        stream=Stream.EVENTS,
        mailbox_id=mailbox_id,
        salesforce_id=salesforce_id,
        origin=Side.MAILBOX,
        fields=fields or {},
        natural_key=natural_key,
    )


# ---------------------------------------------------------------------- files and migrations


def test_open_creates_private_database_in_private_folders(db_path: Path) -> None:
    StateStore.open(db_path).close()
    assert mode_of(db_path) == 0o600
    assert mode_of(db_path.parent) == 0o700
    assert mode_of(db_path.parent.parent) == 0o700


def test_open_tightens_a_database_file_others_could_read(db_path: Path) -> None:
    StateStore.open(db_path).close()
    db_path.chmod(0o644)
    StateStore.open(db_path).close()
    assert mode_of(db_path) == 0o600


def test_journal_files_are_private_and_wal_mode_is_on(db_path: Path) -> None:
    with StateStore.open(db_path) as store:
        store.set_meta("probe", 1)  # a write makes SQLite create its WAL file
        wal = db_path.with_name(db_path.name + "-wal")
        assert wal.exists() and mode_of(wal) == 0o600
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrations_bring_an_empty_state_to_the_current_schema(where: Path | PostgresLocation) -> None:
    if isinstance(where, Path):
        where.parent.mkdir(parents=True)
        where.touch()  # an empty file is an empty database
    with StateStore.open(where) as store:
        assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        tables = store.backend.tables()
    assert {
        "meta",
        "links",
        "cursors",
        "journal",
        "threads",
        "sessions",
        "issues",
        "unlinked_items",
    } <= tables


def test_reopening_is_idempotent_and_keeps_data(where: Path | PostgresLocation) -> None:
    with StateStore.open(where) as store:
        store.put_link(link("m1", "00U1"))
        store.set_cursor(Stream.EVENTS, Side.MAILBOX, "sync-1")
    for _ in range(3):
        with StateStore.open(where) as store:
            assert store.schema_version == SCHEMA_VERSION
            assert set(store.links(Stream.EVENTS)) == {"m1"}
            assert store.cursor(Stream.EVENTS, Side.MAILBOX) == "sync-1"


def test_concurrent_first_opens_migrate_once(where: Path | PostgresLocation) -> None:
    """Two runs started by cron at the same instant on a fresh profile both get a working store."""
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_and_write(n: int) -> None:
        try:
            start.wait()
            with StateStore.open(where) as store:
                store.set_meta(f"opened-{n}", True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with StateStore.open(where) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert all(store.get_meta(f"opened-{n}") for n in range(4))


def test_a_new_migration_is_applied_once_to_an_existing_database(
    where: Path | PostgresLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    with StateStore.open(where) as store:
        store.put_link(link("m1", "00U1"))
    extended = (*MIGRATIONS, "ALTER TABLE links ADD COLUMN note TEXT NOT NULL DEFAULT '';")
    monkeypatch.setattr(state_db, "MIGRATIONS", extended)
    for _ in range(2):  # the second open must not try to add the column again
        with StateStore.open(where) as store:
            assert store.schema_version == len(extended)
            assert store._conn.execute("SELECT note FROM links WHERE mailbox_id = 'm1'").fetchone()[0] == ""


def test_a_failing_migration_leaves_the_previous_version(
    where: Path | PostgresLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    StateStore.open(where).close()
    broken = (*MIGRATIONS, "CREATE TABLE extra (x INTEGER);\nINSERT INTO no_such_table VALUES (1);")
    monkeypatch.setattr(state_db, "MIGRATIONS", broken)
    with pytest.raises(StateStoreError, match="cannot be used"):
        StateStore.open(where)
    monkeypatch.setattr(state_db, "MIGRATIONS", MIGRATIONS)
    with StateStore.open(where) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert "extra" not in store.backend.tables()


def test_a_database_from_a_newer_rgsync_is_refused_with_advice(where: Path | PostgresLocation) -> None:
    with StateStore.open(where) as store:
        store._conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StateStoreError, match=r"newer rgsync.*upgrade rgsync"):
        StateStore.open(where)


def test_a_file_that_is_not_a_database_gives_one_clear_error(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not sqlite at all, just some text " * 100)
    with pytest.raises(StateStoreError) as caught:
        StateStore.open(db_path)
    assert str(db_path) in caught.value.message and "move it aside" in caught.value.message
    assert caught.value.exit_code == 1


def test_open_existing_creates_nothing_on_a_fresh_profile(where: Path | PostgresLocation) -> None:
    assert StateStore.open_existing(where) is None
    if isinstance(where, Path):
        assert not where.parent.exists()
    else:
        schema = where.schema
        assert raw_sql(where, f"SELECT COUNT(*) FROM pg_namespace WHERE nspname = '{schema}'") == [(0,)]
    StateStore.open(where).close()
    existing = StateStore.open_existing(where)
    assert existing is not None
    assert existing.schema_version == SCHEMA_VERSION
    existing.close()


# ---------------------------------------------------------------------- transactions


def test_a_failed_transaction_writes_nothing(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put_link(link("m1", "00U1"))
        store.set_cursor(Stream.EVENTS, Side.SALESFORCE, "c2")
        raise RuntimeError("crash between the write and the cursor")
    assert store.links(Stream.EVENTS) == {}
    assert store.cursor(Stream.EVENTS, Side.SALESFORCE) is None


def test_nested_transaction_failure_undoes_only_the_inner_block(store: StateStore) -> None:
    with store.transaction():
        store.put_link(link("m1", "00U1"))
        with pytest.raises(ValueError), store.transaction():
            store.put_link(link("m2", "00U2"))
            raise ValueError("inner")
        store.put_link(link("m3", "00U3"))
    assert set(store.links(Stream.EVENTS)) == {"m1", "m3"}


def test_changes_are_visible_to_another_connection_only_after_commit(
    store: StateStore, where: Path | PostgresLocation
) -> None:
    count = "SELECT COUNT(*) FROM meta WHERE key = 'k'"
    with store.transaction():
        store.set_meta("k", "v")
        assert raw_sql(where, count) == [(0,)]
    assert raw_sql(where, count) == [(1,)]


# ---------------------------------------------------------------------- meta and pause


def test_meta_round_trips_json_values_and_none_removes(store: StateStore) -> None:
    assert store.get_meta("backoff", default={"level": 0}) == {"level": 0}
    store.set_meta("backoff", {"level": 2, "until": "2024-05-01T12:00:00+00:00"})
    assert store.get_meta("backoff") == {"level": 2, "until": "2024-05-01T12:00:00+00:00"}
    store.set_meta("backoff", None)
    assert store.get_meta("backoff") is None


def test_schema_version_cannot_be_overwritten_through_meta(store: StateStore) -> None:
    with pytest.raises(ValueError):
        store.set_meta("schema_version", 0)


def test_pause_flag_survives_reopening(where: Path | PostgresLocation) -> None:
    """SPEC §2: `rgsync pause` holds until `rgsync resume`, across processes."""
    with StateStore.open(where) as store:
        assert store.paused is False
        store.paused = True
    with StateStore.open(where) as store:
        assert store.paused is True
        store.paused = False
    with StateStore.open(where) as store:
        assert store.paused is False


# ---------------------------------------------------------------------- links


def test_links_round_trip_with_fields_and_natural_key(store: StateStore) -> None:
    original = Link(
        stream=Stream.EVENTS,
        mailbox_id="AAMk=1",
        salesforce_id="00U000000000001AAA",
        origin=Side.SALESFORCE,
        fields={"subject": "Kick-off", "start": "2024-05-01T09:00:00Z", "location": "Room ü"},
        natural_key="Kick-off|2024-05-01T09:00:00Z|005A",
    )
    store.put_link(original)
    assert store.links(Stream.EVENTS) == {"AAMk=1": original}
    assert store.link_by_salesforce_id(Stream.EVENTS, "00U000000000001AAA") == original
    assert store.links(Stream.TASKS) == {}
    assert store.link_by_salesforce_id(Stream.TASKS, "00U000000000001AAA") is None


def test_put_link_replaces_by_mailbox_id(store: StateStore) -> None:
    store.put_link(link("m1", "00U1", fields={"subject": "old"}))
    store.put_link(link("m1", "00U1", fields={"subject": "new"}))
    assert store.links(Stream.EVENTS)["m1"].fields == {"subject": "new"}


def test_a_salesforce_record_is_linked_once_per_stream(store: StateStore) -> None:
    store.put_link(link("old-mailbox-id", "00U1"))
    store.put_link(link("moved-mailbox-id", "00U1"))
    assert set(store.links(Stream.EVENTS)) == {"moved-mailbox-id"}
    # the same ids in another stream are another link
    store.put_link(Link(Stream.TASKS, "moved-mailbox-id", "00U1", Side.MAILBOX))
    assert set(store.links(Stream.TASKS)) == {"moved-mailbox-id"}
    assert set(store.links(Stream.EVENTS)) == {"moved-mailbox-id"}


def test_remove_link_and_linked_natural_keys(store: StateStore) -> None:
    store.put_link(link("m1", "00U1", natural_key="k1"))
    store.put_link(link("m2", "00U2", natural_key="k2"))
    store.put_link(link("m3", "00U3"))
    assert store.linked_natural_keys(Stream.EVENTS) == {"k1", "k2"}
    store.remove_link(Stream.EVENTS, "m1")
    store.remove_link(Stream.EVENTS, "not-there")
    assert set(store.links(Stream.EVENTS)) == {"m2", "m3"}
    assert store.linked_natural_keys(Stream.EVENTS) == {"k2"}


# ---------------------------------------------------------------------- cursors


def test_cursors_per_stream_and_side(store: StateStore) -> None:
    assert store.cursor(Stream.EMAILS, Side.MAILBOX) is None
    store.set_cursor(Stream.EMAILS, Side.MAILBOX, "history-100")
    store.set_cursor(Stream.EMAILS, Side.SALESFORCE, "2024-05-01T09:00:00Z")
    store.set_cursor(Stream.EMAILS, Side.MAILBOX, "history-120")
    assert store.cursor(Stream.EMAILS, Side.MAILBOX) == "history-120"
    assert store.cursor(Stream.EMAILS, Side.SALESFORCE) == "2024-05-01T09:00:00Z"
    assert store.cursor(Stream.EVENTS, Side.MAILBOX) is None
    store.set_cursor(Stream.EMAILS, Side.MAILBOX, None)  # expired: list everything next time
    assert store.cursor(Stream.EMAILS, Side.MAILBOX) is None


# ---------------------------------------------------------------------- journal (SPEC §7.1)


def test_intents_left_pending_by_a_crash_are_found_after_reopening(where: Path | PostgresLocation) -> None:
    with StateStore.open(where) as store:
        done = store.add_intent(Stream.EMAILS, Side.SALESFORCE, "email", "<a@x>", {"n": 1}, now=T0)
        left = store.add_intent(Stream.EMAILS, Side.SALESFORCE, "email", "<b@x>", {"n": 2}, now=T0)
        other = store.add_intent(Stream.EVENTS, Side.MAILBOX, "event", "S|2024|005", {}, now=T0)
        with store.transaction():
            store.put_link(Link(Stream.EMAILS, "m-a", "00T1", Side.MAILBOX, natural_key="<a@x>"))
            store.complete_intent(done, "00T1")
    # the process "crashed" here: <b@x> and the event were sent, or not, nobody knows
    with StateStore.open(where) as store:
        pending = store.pending_intents()
        assert [intent.id for intent in pending] == [left, other]
        email = store.pending_intents(Stream.EMAILS)
        assert len(email) == 1
        assert (email[0].natural_key, email[0].payload, email[0].side, email[0].kind) == (
            "<b@x>",
            {"n": 2},
            Side.SALESFORCE,
            "email",
        )
        assert email[0].created_at == T0
        store.drop_intent(left)
        assert [intent.id for intent in store.pending_intents()] == [other]


# ---------------------------------------------------------------------- tracked threads (SPEC §3.6)


def test_tracked_threads_keep_their_people_and_business_record(store: StateStore) -> None:
    store.track_thread("thread-1", ("003A", "00QB"), "006C")
    store.track_thread("thread-2", (), None)
    store.track_thread("thread-1", ("003A",), "006D")
    assert store.tracked_threads() == {"thread-1": (("003A",), "006D"), "thread-2": ((), None)}


# ---------------------------------------------------------------------- sessions


def test_sessions_record_start_end_status_and_summary(store: StateStore) -> None:
    assert store.last_session() is None
    first = store.start_session(T0)
    summary = {"streams": {"emails": {"created": 3}}, "api_calls": {"mailbox": 2, "salesforce": 1}}
    store.finish_session(first, T0 + timedelta(seconds=42), "completed", summary)
    second = store.start_session(T0 + timedelta(hours=1), dry_run=True)
    last = store.last_session()
    assert last is not None and last.id == second and last.dry_run and last.ended_at is None
    assert last.status == "running" and last.duration is None
    real = store.last_session(include_dry_run=False)
    assert real is not None and real.id == first
    assert real.summary == summary and real.duration == timedelta(seconds=42)
    assert real.started_at == T0 and real.started_at.tzinfo is not None
    assert [s.id for s in store.sessions()] == [second, first]
    assert [s.id for s in store.sessions(limit=1)] == [second]


def test_naive_datetimes_are_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.start_session(datetime(2024, 5, 1, 9, 0))


def test_times_come_back_in_utc_whatever_zone_they_went_in(store: StateStore) -> None:
    from zoneinfo import ZoneInfo

    started = datetime(2024, 5, 1, 11, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    store.start_session(started)
    last = store.last_session()
    assert last is not None and last.started_at == started and last.started_at.utcoffset() == timedelta(0)


def test_spec_4_5_a_meeting_unlinked_by_a_salesforce_deletion_is_remembered_until_forgotten(
    store: StateStore,
) -> None:
    """V19: the link store keeps "deleted in Salesforce, do not save again" per mailbox item."""
    store.remember_unlinked(Stream.EVENTS, "mb-1", "00U1", "deleted in Salesforce")
    assert store.unlinked_items(Stream.EVENTS) == {"mb-1": "deleted in Salesforce"}
    assert store.unlinked_items(Stream.TASKS) == {}
    store.forget_unlinked(Stream.EVENTS, "mb-1")
    assert store.unlinked_items(Stream.EVENTS) == {}


def test_spec_7_7_held_back_items_round_trip_fall_due_and_are_released(store: StateStore) -> None:
    """A hold on a refused item keeps its attempts, next attempt, fingerprint and code; it falls
    due at its time and is gone once released (both backends)."""
    early = HeldBack(2, T0 + timedelta(hours=6), "fp-1", "SF-VALIDATION")
    late = HeldBack(1, T0 + timedelta(hours=1), "fp-2", "SF-REQUIRED-FIELD")
    store.hold_back(Stream.EMAILS, "m1", early)
    store.hold_back(Stream.EMAILS, "m2", late)
    store.hold_back(Stream.TASKS, "m1", late)
    assert store.held_back(Stream.EMAILS, ["m1", "m3"]) == {"m1": early}
    assert store.held_back(Stream.EMAILS) == {"m1": early, "m2": late}
    assert store.due_held_back(Stream.EMAILS, T0) == []
    assert store.due_held_back(Stream.EMAILS, T0 + timedelta(hours=6)) == ["m2", "m1"]
    renewed = HeldBack(3, T0 + timedelta(days=1), "fp-1", "SF-VALIDATION")
    store.hold_back(Stream.EMAILS, "m1", renewed)
    assert store.held_back(Stream.EMAILS, ["m1"]) == {"m1": renewed}
    store.release(Stream.EMAILS, ["m1", "m2"])
    assert store.held_back(Stream.EMAILS) == {} and store.held_back(Stream.TASKS) == {"m1": late}
