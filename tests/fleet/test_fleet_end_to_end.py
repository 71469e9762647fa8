"""A fleet of worker processes syncs a team exactly as one `rgsync run` per user would (SPEC §11, §7.1).

Two team sandboxes start from the same roster. In the reference, each rep is synced by the plain
single-user session (`rgsync run`'s code), twice, with a new customer email between the rounds. In
the fleet, three `rgsync fleet worker` processes share the same two rounds through procrastinate on
a throw-away PostgreSQL; in the second round one worker is SIGKILLed in the middle of a session.
Afterwards every rep's Salesforce records (activities and their relations, Ids replaced by names)
are the reference's, none twice and none missing, and the run table shows no two sessions of one
rep at once.

The CI variant has 6 reps; the 20-rep variant (RGSYNC_SLOW_TESTS=1) is the acceptance run.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from rgsync.demo.team import TeamSandbox, start_team_sandbox
from rgsync.fleet.home import user_paths
from rgsync.fleet.store import FleetStore, overlapping_runs
from rgsync.session import RunOptions
from rgsync.sync import run_session
from tests.fleet.fleet_support import (
    add_round_two_email,
    fleet_env,
    org_snapshot,
    rgsync,
    round_two_moment,
    start_worker,
    stop_workers,
    throwaway_postgres,
    wait_for,
)

WORKERS = 3
STALLED_AFTER = "3"


def _reference(directory: Path, reps: int, round_two: float) -> dict[str, object]:
    """Each rep synced alone by the single-user session, two rounds."""
    with start_team_sandbox(directory, users=reps) as team:
        when = round_two_moment()
        for member in team.members:
            assert run_session(member.paths, RunOptions()).status == "completed"
        for number, member in enumerate(team.members, start=1):
            add_round_two_email(team, number, member.name, when)
            assert run_session(member.paths, RunOptions()).status == "completed"
        return dict(org_snapshot(team.salesforce.org, _owners(team)))


def _owners(team: TeamSandbox) -> dict[str, str]:
    return {m.name: m.salesforce_user_id for m in team.members}


def _completed(store: FleetStore, rounds: int, reps: int) -> bool:
    done: dict[str, int] = {}
    for run in store.runs():
        if run["status"] == "completed":
            done[run["user_name"]] = done.get(run["user_name"], 0) + 1
    return len(done) == reps and all(n >= rounds for n in done.values())


def _fleet_run(tmp_path: Path, reps: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    for name in ("RGSYNC_STATE_DIR", "RGSYNC_PROFILE", "RGSYNC_CONFIG", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)
    reference = _reference(tmp_path / "reference", reps, 0)
    with (
        throwaway_postgres() as pg,
        # Latency keeps each session on the wire long enough to be killed in the middle of it.
        start_team_sandbox(tmp_path / "team", users=reps, latency=0.04) as team,
    ):
        home = tmp_path / "home"
        env = fleet_env(pg.url, home)
        rgsync(env, "fleet", "init")
        rgsync(env, "fleet", "import", str(team.roster_file))
        store = FleetStore(pg.url)
        logs = [tmp_path / f"worker{i}.log" for i in range(WORKERS)]
        workers = [
            start_worker(env, log, "--stalled-after", STALLED_AFTER, "--schedule-every", "0") for log in logs
        ]
        killed_pids: set[int] = set()

        def done(rounds: int) -> bool:
            for worker, log in zip(workers, logs, strict=True):
                if worker.pid not in killed_pids and worker.poll() is not None:
                    raise AssertionError(f"a worker stopped: {log.read_text()[-2000:]}")
            return _completed(store, rounds, reps)

        try:
            # Round 1: every rep is due (never synced).
            rgsync(env, "fleet", "schedule")
            wait_for(lambda: done(1), 120, "round 1")
            when = round_two_moment()
            for number, member in enumerate(team.members, start=1):
                add_round_two_email(team, number, member.name, when)
            # Round 2, and a worker killed while one of its sessions is on the wire.
            rgsync(env, "fleet", "schedule")
            pids = {w.pid: w for w in workers}

            def running_in_a_worker() -> tuple[str, int] | None:
                for run in store.runs():
                    pid = int(str(run["worker"]).rsplit(":", 1)[1])
                    if run["ended_at"] is None and pid in pids and pids[pid].poll() is None:
                        return str(run["user_name"]), pid
                return None

            victim_user, victim_pid = wait_for(running_in_a_worker, 60, "a session in flight")
            time.sleep(0.1)  # well into the session: sign-in done, reads and writes on the wire
            killed_pids.add(victim_pid)
            os.kill(victim_pid, signal.SIGKILL)
            pids[victim_pid].wait()
            wait_for(lambda: done(2), 120, "round 2 with the killed job retried")
        finally:
            stop_workers(workers)
        runs = store.runs()
        fleet = dict(org_snapshot(team.salesforce.org, _owners(team)))

    # The killed session was abandoned and its rep synced to completion by another worker.
    killed = [r for r in runs if r["user_name"] == victim_user and r["status"] == "abandoned"]
    assert len(killed) == 1, [(r["user_name"], r["status"], r["worker"]) for r in runs]
    assert not str(killed[0]["worker"]).endswith(f":{victim_pid}") or any(
        r["user_name"] == victim_user
        and r["status"] == "completed"
        and r["started_at"] > killed[0]["started_at"]
        for r in runs
    )
    # Never two sessions of one rep at once (the run table).
    assert overlapping_runs(runs) == []
    # Every rep's Salesforce records are what two single-user runs give: nothing twice, nothing lost.
    assert set(fleet) == set(reference)
    for rep in sorted(reference):
        extra = fleet[rep] - reference[rep]  # type: ignore[operator]
        lost = reference[rep] - fleet[rep]  # type: ignore[operator]
        assert not extra and not lost, f"{rep}: duplicated {sorted(extra)}; lost {sorted(lost)}"
    # Work was shared: more than one worker ran sessions.
    assert len({r["worker"] for r in runs}) >= 2


def test_spec_11_fleet_of_three_workers_syncs_six_reps_like_single_runs_despite_a_killed_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §11 and §7.1: the CI-sized fleet run."""
    _fleet_run(tmp_path, 6, monkeypatch)


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("RGSYNC_SLOW_TESTS"), reason="set RGSYNC_SLOW_TESTS=1 for the 20-rep run"
)
def test_spec_11_fleet_of_three_workers_syncs_twenty_reps_like_single_runs_despite_a_killed_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §11 acceptance: 20 reps, 3 worker processes, two rounds, one worker SIGKILLed."""
    _fleet_run(tmp_path, 20, monkeypatch)


def test_user_paths_refuse_a_shared_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SPEC §7.11: with RGSYNC_STATE_DIR set every fleet user would share one journal; refused."""
    from rgsync.errors import UsageError

    monkeypatch.setenv("RGSYNC_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(UsageError, match="RGSYNC_STATE_DIR"):
        user_paths(tmp_path / "home", "ann")
