"""The org's API budget across the fleet (SPEC §11 org API budget, §7.4 min-api-remaining).

Twelve reps share an emulated org whose other integrations have already used most of the day's
allocation: the fleet runs the sessions that fit above the floor and defers the rest (no failed
session, no issue), the org's usage never crosses the floor, and once the allocation comes back
(the emulator's day starts over) every rep syncs. Workers that reserve at the same moment never
plan past the floor together.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rgsync.demo.team import start_team_sandbox
from rgsync.fleet import budget
from rgsync.fleet.store import FleetStore, FleetUser
from rgsync.model import ApiUsage
from tests.fleet.fleet_support import (
    fleet_env,
    isolate_env,
    rgsync,
    start_worker,
    stop_workers,
    throwaway_postgres,
    wait_for,
)

REPS = 12
LIMIT = 1_000
FLOOR = 100  # min-api-remaining 10 % of 1,000
OTHERS_USED = 800  # the org's other integrations, before the fleet starts
POLICY = """
[forced.sync]
min-api-remaining-percent = 10
interval-minutes = 30

[fleet]
user-daily-api-calls = 500
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_env(monkeypatch)


@contextmanager
def _highest_usage(org: Any) -> Iterator[list[int]]:
    """Sample the emulated org's calls used while the block runs; yields [highest seen]."""
    highest = [int(org.api_used)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            highest[0] = max(highest[0], int(org.api_used))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield highest
    finally:
        stop.set()
        sampler.join()
        highest[0] = max(highest[0], int(org.api_used))


def _completed_users(store: FleetStore) -> set[str]:
    return {str(r["user_name"]) for r in store.runs() if r["status"] == "completed"}


def _deferrals(store: FleetStore) -> list[tuple[str, str]]:
    with store.connect() as db:
        rows = db.execute("SELECT user_name, reason FROM rgsync_fleet_budget_deferrals").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def test_spec_11_sessions_past_the_org_floor_are_deferred_not_failed_and_all_sync_once_budget_returns(
    tmp_path: Path,
) -> None:
    """SPEC §11 / §7.4: 12 reps, an allocation that fits a few first sessions above the floor."""
    with throwaway_postgres() as pg, start_team_sandbox(tmp_path / "team", users=REPS) as team:
        org = team.salesforce.org
        env = fleet_env(pg.url, tmp_path / "home")
        policy = tmp_path / "org-policy.toml"
        policy.write_text(POLICY, encoding="utf-8")
        rgsync(env, "fleet", "init", "--org-policy", str(policy))
        rgsync(env, "fleet", "import", str(team.roster_file))
        org.set_allocation(OTHERS_USED, LIMIT)
        store = FleetStore(pg.url)
        names = {m.name for m in team.members}
        logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        options = ("--concurrency", "2", "--schedule-every", "1", "--budget-recheck", "2")
        workers = [start_worker(env, log, *options) for log in logs]
        try:
            with _highest_usage(org) as before_reset:

                def settled() -> bool:
                    in_flight = any(r["ended_at"] is None for r in store.runs())
                    deferred = {user for user, _ in _deferrals(store)}
                    return not in_flight and (_completed_users(store) | deferred) == names

                wait_for(settled, 90, "every rep synced or deferred")
                runs_before = store.runs()
                status = json.loads(rgsync(env, "fleet", "status", "--json").stdout)
                runs_then = store.runs()
                table = rgsync(env, "fleet", "status").stdout
            ran_first = {str(r["user_name"]) for r in runs_then if r["status"] == "completed"}
            deferred_reasons = {reason for _, reason in _deferrals(store)}

            with _highest_usage(org) as after_reset:
                org.set_allocation(0)  # the org's day starts over
                wait_for(lambda: _completed_users(store) == names, 120, "every rep synced after the reset")
        finally:
            stop_workers(workers)
        runs = store.runs()
        users = store.users()

    # Some first sessions fitted above the floor, the others were deferred, not failed.
    assert 0 < len(ran_first) < REPS, ran_first
    assert budget_reason_is_floor(deferred_reasons)
    assert {r["status"] for r in runs} == {"completed"}, [(r["user_name"], r["status"]) for r in runs]
    assert all(u.open_issues == 0 for u in users), [(u.name, u.last_message) for u in users]
    # The org never went below its floor because of the fleet.
    assert before_reset[0] <= LIMIT - FLOOR, before_reset
    assert after_reset[0] <= LIMIT - FLOOR, after_reset

    # `fleet status --json` shows the day's use, the floor, per-user use and share, and the forecast.
    shown = status["budget"]
    assert (shown["limit"], shown["floor"]) == (LIMIT, FLOOR)
    assert OTHERS_USED < shown["used"] <= LIMIT - FLOOR
    assert shown["remaining"] == LIMIT - shown["used"]
    per_user = shown["users"]
    assert set(per_user) == names
    calls_before = {
        n: sum(r["api_calls_salesforce"] for r in runs_before if r["user_name"] == n) for n in names
    }
    ran_calls = {n: sum(r["api_calls_salesforce"] for r in runs_then if r["user_name"] == n) for n in names}
    assert all(calls_before[n] <= per_user[n]["used_24h"] <= ran_calls[n] for n in names)
    assert all(ran_calls[n] > 0 for n in ran_first)
    assert shown["deferred_24h"] == sum(row["deferred_24h"] for row in per_user.values()) > 0
    # The fleet's calls of the last hour, extrapolated over the next 24 hours.
    fleet_calls = sum(row["used_24h"] for row in per_user.values())
    assert shown["fleet_used_24h"] == fleet_calls > 0
    assert shown["forecast"]["rate_per_hour"] == fleet_calls
    assert shown["forecast"]["used_by_window_end"] == shown["used"] + 24 * fleet_calls
    assert shown["forecast"]["floor_reached"] is True
    assert "deferred 24 h" in table and "Forecast:" in table


def budget_reason_is_floor(reasons: set[str]) -> bool:
    """The first sessions that did not fit were deferred for the org's floor."""
    return "org-floor" in reasons


def test_spec_11_workers_reserving_at_the_same_moment_never_plan_past_the_floor(tmp_path: Path) -> None:
    """SPEC §11: eight workers ask at once; the room above the floor holds two first sessions."""
    with throwaway_postgres() as pg:
        store = FleetStore(pg.url)
        store.create_schema()
        budget.create_schema(store)
        users = [
            FleetUser(f"rep{n}", "gmail", f"rep{n}@example.com", f"rep{n}@example.com", "") for n in range(8)
        ]
        store.upsert_users(users)
        now = datetime.now(UTC)
        budget.record_reading(store, ApiUsage(used=800, limit=LIMIT), now, "session")
        settings = budget.BudgetSettings(floor_percent=10)
        recheck = timedelta(days=1)  # one read of the allocation kept above the floor
        start = threading.Barrier(len(users))
        tickets: list[budget.Ticket] = []

        def ask(name: str) -> None:
            start.wait()
            tickets.append(budget.admit(store, name, settings, now, recheck=recheck))

        threads = [threading.Thread(target=ask, args=(u.name,)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        admitted = [t for t in tickets if t.allowed]
        # 1,000 − 800 used − 100 floor − 1 kept for a read = 99: two reservations of 40 fit, not three.
        assert len(admitted) == 2, [(t.user, t.allowed, t.message) for t in tickets]
        assert all(t.reason == "org-floor" and t.until is not None for t in tickets if not t.allowed)
        deferred = {t.user for t in tickets if not t.allowed}
        assert {u.name for u in store.users() if u.next_due_at is not None} == deferred
        # A session that ends gives its reservation back: the next one fits again.
        budget.release(store, admitted[0])
        assert budget.admit(store, next(iter(deferred)), settings, now, recheck=recheck).allowed
