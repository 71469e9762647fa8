"""Faults a fleet must survive (SPEC §11): one user's dead sign-in, PostgreSQL restarting under workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rgsync.demo.team import start_team_sandbox
from rgsync.fleet.runner import run_user
from rgsync.fleet.store import FleetStore
from tests.fleet.fleet_support import (
    fleet_env,
    isolate_env,
    rgsync,
    start_worker,
    stop_workers,
    throwaway_postgres,
    wait_for,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_env(monkeypatch)


def test_spec_11_a_user_whose_salesforce_sign_in_fails_is_stopped_and_the_others_go_on(
    tmp_path: Path,
) -> None:
    """SPEC §11, §9: SF-AUTH stops that user's scheduling with the reason; the next user syncs."""
    with throwaway_postgres() as pg, start_team_sandbox(tmp_path / "team", users=2) as team:
        env = fleet_env(pg.url, tmp_path / "home")
        rgsync(env, "fleet", "init")
        rgsync(env, "fleet", "import", str(team.roster_file))
        broken, fine = team.members
        team.salesforce.emulator.expire_session(broken.salesforce_token)
        store = FleetStore(pg.url)
        home = tmp_path / "home"
        assert run_user(store, home, broken.name).status == "failed"
        assert run_user(store, home, fine.name).status == "completed"
        stopped = store.user(broken.name)
        assert stopped is not None and stopped.stopped_reason
        assert "SF-AUTH" in stopped.stopped_reason or "Salesforce" in stopped.stopped_reason
        assert store.due_users(_far_future()) == [fine.name]
        # A stopped user's queued job does nothing until the admin resumes it.
        assert run_user(store, home, broken.name).status == "stopped"
        rgsync(env, "fleet", "resume", broken.name)
        assert broken.name in store.due_users(_far_future())


def _far_future() -> datetime:
    return datetime.now(UTC) + timedelta(days=365)


def test_spec_11_workers_reconnect_after_postgresql_restarts(tmp_path: Path) -> None:
    """SPEC §11: the database restarts under a running worker; the worker goes on taking sessions."""
    with throwaway_postgres() as pg, start_team_sandbox(tmp_path / "team", users=3) as team:
        env = fleet_env(pg.url, tmp_path / "home")
        rgsync(env, "fleet", "init")
        rgsync(env, "fleet", "import", str(team.roster_file))
        store = FleetStore(pg.url)
        log = tmp_path / "worker.log"
        worker = start_worker(env, log, "--schedule-every", "1", "--stalled-after", "3")
        try:
            wait_for(
                lambda: len({r["user_name"] for r in store.runs() if r["status"] == "completed"}) == 3,
                60,
                "first sessions",
            )
            pg.restart()
            before = len(store.runs())
            # Every session is due again at once in the sandbox (interval 0): the worker schedules more.
            wait_for(lambda: len(store.runs()) >= before + 3, 60, "sessions after the restart")
            assert worker.poll() is None, log.read_text()[-2000:]
        finally:
            stop_workers([worker])
