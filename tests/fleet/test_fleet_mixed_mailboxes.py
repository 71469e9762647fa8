"""A fleet over Gmail, Microsoft 365 and Exchange mailboxes at once (SPEC §11): each rep of a
mixed team is synced by a worker exactly as their own `rgsync run` syncs them."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from rgsync.demo.team import start_team_sandbox
from rgsync.fleet.store import FleetStore, overlapping_runs
from rgsync.session import RunOptions
from rgsync.sync import run_session
from tests.fleet.fleet_support import fleet_env, isolate_env, org_snapshot, rgsync, throwaway_postgres

REPS = 3  # one of each kind
# Graph's conversation ids are minted by each emulated mailbox afresh: equal when both are set.
_THREAD_ID = re.compile(r'"ThreadIdentifier": "[^"]+"')


def _comparable(snapshot: dict[str, Counter[str]]) -> dict[str, Counter[str]]:
    masked: dict[str, Counter[str]] = {}
    for rep, lines in snapshot.items():
        masked[rep] = Counter()
        for line, count in lines.items():
            masked[rep][_THREAD_ID.sub('"ThreadIdentifier": "<set>"', line)] += count
    return masked


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_env(monkeypatch)


def test_spec_11_a_fleet_syncs_a_mixed_roster_of_gmail_microsoft365_and_exchange_like_single_runs(
    tmp_path: Path,
) -> None:
    with start_team_sandbox(tmp_path / "reference", users=REPS, mailbox="mixed") as team:
        for member in team.members:
            assert run_session(member.paths, RunOptions()).status == "completed", member.mailbox
        reference = _comparable(
            org_snapshot(team.salesforce.org, {m.name: m.salesforce_user_id for m in team.members})
        )

    with (
        throwaway_postgres() as pg,
        start_team_sandbox(tmp_path / "team", users=REPS, mailbox="mixed") as team,
    ):
        with team.roster_file.open(encoding="utf-8") as handle:
            kinds = {row["name"]: row["mailbox"] for row in csv.DictReader(handle)}
        assert sorted(kinds.values()) == ["exchange", "gmail", "microsoft365"]
        env = fleet_env(pg.url, tmp_path / "home")
        rgsync(env, "fleet", "init")
        rgsync(env, "fleet", "import", str(team.roster_file))
        listed = rgsync(env, "fleet", "list", "--json")
        assert '"microsoft365"' in listed.stdout and '"exchange"' in listed.stdout
        rgsync(env, "fleet", "schedule")
        # One worker process running the three kinds' sessions side by side.
        rgsync(env, "fleet", "worker", "--until-idle", "--concurrency", "3", "--schedule-every", "0")
        runs = FleetStore(pg.url).runs()
        fleet = _comparable(
            org_snapshot(team.salesforce.org, {m.name: m.salesforce_user_id for m in team.members})
        )

    assert sorted((r["user_name"], r["status"]) for r in runs) == [
        (name, "completed") for name in sorted(kinds)
    ]
    assert overlapping_runs(runs) == []
    assert set(fleet) == set(reference) == set(kinds)
    for rep, kind in kinds.items():
        assert fleet[rep], f"{rep} ({kind}) has no records in Salesforce"
        extra, lost = fleet[rep] - reference[rep], reference[rep] - fleet[rep]
        assert not extra and not lost, f"{rep} ({kind}): duplicated {sorted(extra)}; lost {sorted(lost)}"
