"""A damaged state database gives one line pointing at `rgsync state check` (exit 1, SPEC §8: the
session failed), never a traceback; `rgsync state check` names the fix; a copy is kept before each
migration. Every database lives in a temporary folder."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rgsync.cli import main
from rgsync.model import Link, Side, Stream
from rgsync.state import PostgresLocation, StateStore, StateStoreError
from rgsync.state import db as state_db
from rgsync.state.check import check_state
from rgsync.state.records import StateDamagedError
from rgsync.state.schema import MIGRATIONS
from tests.postgres_cluster import raw_sql


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RGSYNC_CONFIG", "RGSYNC_PROFILE", "RGSYNC_STATE_DIR", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "s.toml"


def _fill(where: Path | PostgresLocation) -> None:
    with StateStore.open(where) as store:
        session = store.start_session(datetime(2026, 12, 1, 9, tzinfo=UTC))
        store.finish_session(session, datetime(2026, 12, 1, 9, 1, tzinfo=UTC), "completed", {})
        store.put_link(Link(Stream.EMAILS, "m1", "00T1", Side.MAILBOX, {}, "<a@b>"))
        store.set_meta("next_due_at", "2026-12-01T09:31:00+00:00")


@pytest.fixture
def db_path(config: Path) -> Path:
    """A sound state database with a session, a link and a meta value, where `--config` puts it."""
    path = config.parent / ".rgsync-state" / "default" / "state.sqlite3"
    _fill(path)
    return path


@pytest.fixture
def where(backend_name: str, config: Path, request: pytest.FixtureRequest) -> Path | PostgresLocation:
    """The same sound state, as a SQLite file where `--config` puts it, then as a PostgreSQL schema."""
    if backend_name == "sqlite":
        path: Path = request.getfixturevalue("db_path")
        return path
    location: PostgresLocation = request.getfixturevalue("pg_location")
    _fill(location)
    return location


def _profile_args(config: Path, where: Path | PostgresLocation) -> list[str]:
    """The global options that point the CLI at `where`."""
    if isinstance(where, PostgresLocation):
        return ["--config", str(config), "--profile", where.profile, "--state-url", where.conninfo]
    return ["--config", str(config)]


def _fix_for(where: Path | PostgresLocation) -> str:
    if isinstance(where, PostgresLocation):
        return f'DROP SCHEMA "{where.schema}" CASCADE'
    return f"mv {where} {where}.damaged"


def _sql(path: Path, *statements: str) -> None:
    connection = sqlite3.connect(path)
    try:
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


DAMAGE: dict[str, tuple[str, ...]] = {
    "schema_version is not a number": ("UPDATE meta SET value = '\"abc\"' WHERE key = 'schema_version'",),
    "bad JSON in meta": ("UPDATE meta SET value = '{oops' WHERE key = 'next_due_at'",),
    "a session date that is not a date": ("UPDATE sessions SET started_at = 'yesterday'",),
    "the links table is missing": ("DROP TABLE links",),
    "a link with an unknown origin": ("UPDATE links SET origin = 'moon'",),
    "text that is not UTF-8": ("UPDATE sessions SET status = CAST(x'80ff' AS TEXT)",),
}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exited:
        code = int(exited.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_spec_8_damaged_state_is_one_line_pointing_at_state_check(
    damage: str, config: Path, where: Path | PostgresLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    if isinstance(where, PostgresLocation) and "UTF-8" in damage:
        pytest.skip("PostgreSQL's text columns cannot hold bytes that are not UTF-8")
    raw_sql(where, *DAMAGE[damage])
    with pytest.raises(StateDamagedError) as caught, StateStore.open(where) as store:
        store.verify()
    assert "rgsync state check" in caught.value.message and "\n" not in caught.value.message
    assert str(where) in caught.value.message
    for command in (("status",), ("issues", "list")):
        code, _out, err = _cli(capsys, *_profile_args(config, where), *command)
        lines = err.strip().splitlines()
        if code == 0:
            # This command never reads the damaged part (say, issues and a bad meta value).
            assert err == ""
            continue
        assert code == 1 and len(lines) == 1 and "Traceback" not in err
        assert "is damaged" in lines[0] and "rgsync state check" in lines[0]
    code, _out, err = _cli(capsys, *_profile_args(config, where), "state", "check")
    assert code == 1 and "damaged" in err and _fix_for(where) in err


def test_spec_8_a_sound_state_checks_out(
    config: Path, where: Path | PostgresLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = _cli(capsys, *_profile_args(config, where), "state", "check")
    assert code == 0 and "is sound" in out and f"schema {len(MIGRATIONS)}" in out
    code, out, _err = _cli(capsys, *_profile_args(config, where), "--json", "state", "check")
    assert code == 0
    report = check_state(where)
    assert report.sound and report.counts["links"] == 1 and report.counts["sessions"] == 1


def test_spec_8_state_check_without_a_database(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _cli(capsys, "--config", str(config), "state", "check")
    assert code == 0 and "No state database" in out
    assert not (config.parent / ".rgsync-state" / "default" / "state.sqlite3").exists()


def test_spec_8_state_check_finds_a_file_that_is_no_database(config: Path, db_path: Path) -> None:
    db_path.write_bytes(b"not sqlite " * 400)
    report = check_state(db_path)
    assert not report.sound and "SQLite" in report.findings[0].what
    with pytest.raises(StateStoreError, match="rgsync state check"):
        StateStore.open(db_path)


def test_spec_8_state_check_changes_nothing(db_path: Path) -> None:
    _sql(db_path, "UPDATE sessions SET summary = '[1]'")
    before = db_path.read_bytes()
    report = check_state(db_path)
    assert not report.sound and "sessions" in report.findings[0].what
    assert db_path.read_bytes() == before


def test_spec_8_state_check_on_postgresql_names_the_bad_rows_and_changes_nothing(
    pg_location: PostgresLocation,
) -> None:
    _fill(pg_location)
    raw_sql(pg_location, "UPDATE sessions SET summary = '[1]'")
    everything = "SELECT (SELECT string_agg(summary, ',') FROM sessions), (SELECT COUNT(*) FROM links)"
    before = raw_sql(pg_location, everything)
    report = check_state(pg_location)
    assert not report.sound and "1 row(s) of its sessions table" in report.findings[0].what
    assert report.fix.startswith(f'restore the schema "{pg_location.schema}"')
    assert raw_sql(pg_location, everything) == before


def test_spec_8_state_check_on_postgresql_without_state_creates_nothing(
    pg_location: PostgresLocation,
) -> None:
    report = check_state(pg_location)
    assert not report.exists and report.sound
    schema = pg_location.schema
    assert raw_sql(pg_location, f"SELECT COUNT(*) FROM pg_namespace WHERE nspname = '{schema}'") == [(0,)]


def test_spec_7_1_a_copy_is_kept_before_each_migration_and_named_by_the_check(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = len(MIGRATIONS)
    monkeypatch.setattr(state_db, "MIGRATIONS", (*MIGRATIONS, "CREATE TABLE extra (x INTEGER);"))
    with StateStore.open(db_path) as store:
        assert store.schema_version == version + 1
    backup = db_path.with_name(f"state.sqlite3.v{version}.backup")
    assert backup.is_file() and (backup.stat().st_mode & 0o777) == 0o600
    copy = sqlite3.connect(backup)
    try:
        assert copy.execute("SELECT mailbox_id FROM links").fetchall() == [("m1",)]
        assert copy.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(version),
        )
    finally:
        copy.close()
    # Opening again migrates nothing and keeps the one copy.
    StateStore.open(db_path).close()
    assert sorted(p.name for p in db_path.parent.glob("*.backup")) == [backup.name]
    _sql(db_path, "DROP TABLE extra")
    report = check_state(db_path)
    assert not report.sound and report.backups == (backup,)
    assert f"mv {backup} {db_path}" in report.fix


def test_spec_7_1_a_failed_migration_names_the_copy_and_keeps_the_old_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_db, "MIGRATIONS", (*MIGRATIONS, "INSERT INTO no_such_table VALUES (1);"))
    with pytest.raises(StateStoreError) as caught:
        StateStore.open(db_path)
    assert f"v{len(MIGRATIONS)}.backup" in caught.value.message and "\n" not in caught.value.message
    monkeypatch.setattr(state_db, "MIGRATIONS", MIGRATIONS)
    with StateStore.open(db_path) as store:
        assert store.schema_version == len(MIGRATIONS) and "m1" in store.links(Stream.EMAILS)


def test_spec_8_a_fresh_database_gets_no_backup(tmp_path: Path) -> None:
    StateStore.open(tmp_path / "state.sqlite3").close()
    assert list(tmp_path.glob("*.backup")) == []


@pytest.mark.parametrize(
    "damage",
    [
        ("DELETE FROM meta WHERE key = 'schema_version'",),
        ("UPDATE meta SET value = '-3' WHERE key = 'schema_version'",),
        ("DROP TABLE meta",),
        ("DROP INDEX links_natural_key", "ALTER TABLE links DROP COLUMN natural_key"),
    ],
)
def test_spec_8_a_schema_that_cannot_be_trusted_is_refused_at_open(
    damage: tuple[str, ...], where: Path | PostgresLocation
) -> None:
    raw_sql(where, *damage)
    with pytest.raises(StateDamagedError) as caught:
        StateStore.open(where)
    assert str(where) in caught.value.message
    assert not check_state(where).sound
