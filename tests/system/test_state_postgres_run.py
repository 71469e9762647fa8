"""`rgsync run` with its state in PostgreSQL (`--state-url`), over the in-memory providers: the same
outcome as with the SQLite file, nothing saved twice on the next run (SPEC §7), and `status`,
`issues` and `pause` read and write the same shared state."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync.session import SyncSession
from rgsync.session.retry import NO_WAIT
from rgsync.state import PostgresLocation
from tests.postgres_cluster import raw_sql
from tests.system.cli_support import invoke
from tests.system.memory_world import World, make_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = make_world(tmp_path / "ann")
    monkeypatch.setattr(
        "rgsync.sync.SyncSession", functools.partial(SyncSession, clock=lambda: w.now, retry=NO_WAIT)
    )
    for name in ("RGSYNC_CONFIG", "RGSYNC_PROFILE", "RGSYNC_STATE_DIR", "RGSYNC_STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    with w.registered():
        yield w


def test_spec_7_a_run_on_postgresql_saves_once_and_the_views_read_the_shared_state(
    world: World, pg_location: PostgresLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    world.email("bob@globex.com", subject="Pricing")
    world.email("frank@acme.com", subject="Lunch")
    base = (
        "--config", str(world.root / "settings.toml"),
        "--profile", pg_location.profile, "--state-url", pg_location.conninfo,
    )  # fmt: skip
    first = invoke(capsys, *base, "run", "--json")
    assert first.code == 0, first.err
    assert len(world.crm.emails) == 1
    world.tick()
    world.email("bob@globex.com", subject="Pricing, again")
    second = invoke(capsys, *base, "run", "--force", "--json")
    assert second.code == 0, second.err
    assert sorted(e.email.subject for e in world.crm.emails.values()) == ["Pricing", "Pricing, again"]
    # Everything went to the profile's schema; no SQLite file was made next to the settings.
    assert raw_sql(pg_location, "SELECT COUNT(*) FROM links WHERE stream = 'emails'") == [(2,)]
    assert raw_sql(pg_location, "SELECT COUNT(*) FROM sessions WHERE status = 'completed'") == [(2,)]
    assert not (world.root / ".rgsync-state" / pg_location.profile / "state.sqlite3").exists()
    status = invoke(capsys, *base, "status", "--json")
    assert status.code == 0 and status.json["last_session"]["id"] == second.json["session_id"]
    assert invoke(capsys, *base, "pause").code == 0
    paused = invoke(capsys, *base, "run", "--json")
    assert paused.code == 0 and paused.json["status"] == "paused"
