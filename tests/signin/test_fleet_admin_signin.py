"""A fleet whose users have no sign-in of their own: the org's admin sign-in (Salesforce JWT
bearer, a Google service account with domain-wide delegation) runs every session (SPEC §11, §9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rgsync.cli import cli
from rgsync.demo.team import start_team_sandbox
from rgsync.demo.team_admin import add_admin_sign_in
from rgsync.fleet.home import user_paths
from rgsync.fleet.runner import run_user
from rgsync.fleet.store import FleetStore
from tests.fleet.fleet_support import fleet_env, isolate_env, org_snapshot, throwaway_postgres


def rgsync(env: dict[str, str], *args: str) -> Result:
    """`rgsync ARGS` in this process (a subprocess per command would triple the test's time)."""
    done = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert done.exit_code == 0, f"rgsync {' '.join(args)} exited {done.exit_code}: {done.output[-2000:]}"
    return done


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_env(monkeypatch)


def test_spec_11_users_without_their_own_sign_in_run_on_the_org_admin_sign_in(tmp_path: Path) -> None:
    with throwaway_postgres() as pg, start_team_sandbox(tmp_path / "team", users=3) as team:
        flows = add_admin_sign_in(team)
        home = tmp_path / "home"
        env = fleet_env(pg.url, home)
        rgsync(env, "fleet", "init", "--org-policy", str(flows.policy_file))
        rgsync(env, "fleet", "import", str(flows.roster_file))
        ann, bob, own = team.members
        # The third rep keeps the sign-in they made themselves (settings and credentials file).
        rgsync(
            env, "fleet", "add", own.name, "--settings", str(own.paths.settings_file),
            "--credentials", str(own.paths.credentials_file),
        )  # fmt: skip
        store = FleetStore(pg.url)
        assert [run_user(store, home, m.name).status for m in team.members] == ["completed"] * 3

        # Each admin-signed user's mailbox was opened by the service account acting as them, and
        # Salesforce gave each their own session by username: records are owned by each rep.
        assert {subject for _email, subject in flows.directory.issued} == {ann.address, bob.address}
        owners = {m.name: m.salesforce_user_id for m in team.members}
        saved = org_snapshot(team.salesforce.org, owners)
        assert all(sum(saved[m.name].values()) > 0 for m in team.members), saved
        for member in (ann, bob):
            stored = json.loads(user_paths(home, member.name).credentials_file.read_text(encoding="utf-8"))
            kept = set(stored.get("secrets", stored))
            assert not any(name.startswith("gmail.") for name in kept)  # no mailbox secret per user
            assert "salesforce.session" in kept  # the token issued for this user, cached as usual

        # `rgsync doctor --user` checks the admin sign-in end to end for that user.
        done = rgsync(env, "--json", "doctor", "--user", ann.name)
        checks = {c["check"]: c for c in json.loads(done.stdout)["checks"]}
        assert checks["Gmail sign-in for the fleet"]["status"] == "ok"
        assert "domain-wide delegation" in checks["Gmail sign-in for the fleet"]["detail"]
        assert "JWT" in checks["Salesforce sign-in for the fleet"]["detail"]
        assert all(
            checks[api]["status"] == "ok" for api in ("Gmail API", "Calendar API", "Tasks API", "People API")
        )
        assert checks["Sign-in"]["status"] == "ok" and ann.address in checks["Sign-in"]["detail"]
        own_check = json.loads(rgsync(env, "--json", "doctor", "--user", own.name).stdout)["checks"]
        assert {c["check"]: c["status"] for c in own_check}["Gmail sign-in for the fleet"] == "notice"

        # The admin withdraws bob's pre-authorisation: his next session fails on SF-AUTH, he is
        # stopped with the reason, and doctor says so; ann goes on.
        app = team.salesforce.emulator.oauth.apps[flows.salesforce_consumer_key]
        app.preauthorized_user_ids.discard(bob.salesforce_user_id)
        team.salesforce.emulator.sessions.clear()  # every cached session has expired
        assert run_user(store, home, bob.name).status == "failed"
        stopped = store.user(bob.name)
        assert stopped is not None and stopped.stopped_reason
        assert run_user(store, home, ann.name).status == "completed"
