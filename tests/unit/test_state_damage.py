"""A damaged state database gives one line pointing at `rgsync state check` (exit 1, SPEC §8: the
session failed), never a traceback; `rgsync state check` names the fix; a copy is kept before each
migration. Every database lives in a temporary folder."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rgsync.cli import main
from rgsync.model import Link, Side, Stream
from rgsync.state import StateStore, StateStoreError
from rgsync.state import db as state_db
from rgsync.state.check import check_state
from rgsync.state.records import StateDamagedError
from rgsync.state.schema import MIGRATIONS


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RGSYNC_CONFIG", "RGSYNC_PROFILE", "RGSYNC_STATE_DIR", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "s.toml"


@pytest.fixture
def db_path(config: Path) -> Path:
    """A sound state database with a session, a link and a meta value, where `--config` puts it."""
    path = config.parent / ".rgsync-state" / "default" / "state.sqlite3"
    with StateStore.open(path) as store:
        session = store.start_session(datetime(2026, 12, 1, 9, tzinfo=UTC))
        store.finish_session(session, datetime(2026, 12, 1, 9, 1, tzinfo=UTC), "completed", {})
        store.put_link(Link(Stream.EMAILS, "m1", "00T1", Side.MAILBOX, {}, "<a@b>"))
        store.set_meta("next_due_at", "2026-12-01T09:31:00+00:00")
    return path


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
    damage: str, config: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sql(db_path, *DAMAGE[damage])
    with pytest.raises(StateDamagedError) as caught, StateStore.open(db_path) as store:
        store.verify()
    assert "rgsync state check" in caught.value.message and "\n" not in caught.value.message
    for command in (("status",), ("issues", "list")):
        code, _out, err = _cli(capsys, "--config", str(config), *command)
        lines = err.strip().splitlines()
        if code == 0:
            # This command never reads the damaged part (say, issues and a bad meta value).
            assert err == ""
            continue
        assert code == 1 and len(lines) == 1 and "Traceback" not in err
        assert "is damaged" in lines[0] and "rgsync state check" in lines[0]
    code, _out, err = _cli(capsys, "--config", str(config), "state", "check")
    assert code == 1 and "damaged" in err and f"mv {db_path} {db_path}.damaged" in err


def test_spec_8_a_sound_state_checks_out(
    config: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = _cli(capsys, "--config", str(config), "state", "check")
    assert code == 0 and "is sound" in out and f"schema {len(MIGRATIONS)}" in out
    code, out, _err = _cli(capsys, "--config", str(config), "--json", "state", "check")
    assert code == 0
    report = check_state(db_path)
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
        lambda path: _sql(path, "DELETE FROM meta WHERE key = 'schema_version'"),
        lambda path: _sql(path, "UPDATE meta SET value = '-3' WHERE key = 'schema_version'"),
        lambda path: _sql(path, "DROP TABLE meta"),
        lambda path: _sql(path, "DROP INDEX links_natural_key", "ALTER TABLE links DROP COLUMN natural_key"),
    ],
)
def test_spec_8_a_schema_that_cannot_be_trusted_is_refused_at_open(
    damage: Callable[[Path], None], db_path: Path
) -> None:
    damage(db_path)
    with pytest.raises(StateDamagedError) as caught:
        StateStore.open(db_path)
    assert str(db_path) in caught.value.message
    assert not check_state(db_path).sound
