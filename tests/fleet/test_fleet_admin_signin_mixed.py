"""A mixed roster (Gmail, Microsoft 365, Exchange) synced on the org's admin sign-in alone (SPEC §11,
§9): the team sandbox's org policy and roster run every rep with no sign-in of their own, each rep's
records are owned by that rep and are what the rep's own `rgsync run` saves."""

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
from rgsync.session import RunOptions
from rgsync.sync import run_session
from tests.fleet.fleet_support import fleet_env, isolate_env, org_snapshot, throwaway_postgres
from tests.fleet.test_fleet_mixed_mailboxes import _comparable

REPS = 6  # two of each kind (gmail, microsoft365, exchange): one app or account serves both
MAILBOX_SECRETS = ("gmail.", "microsoft365.", "exchange.")


def rgsync(env: dict[str, str], *args: str) -> Result:
    """`rgsync ARGS` in this process (a subprocess per command would double the test's time)."""
    done = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert done.exit_code == 0, f"rgsync {' '.join(args)} exited {done.exit_code}: {done.output[-2000:]}"
    return done


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_env(monkeypatch)


def _doctor(env: dict[str, str], name: str) -> dict[str, dict[str, str]]:
    done = rgsync(env, "--json", "doctor", "--user", name)
    return {c["check"]: c for c in json.loads(done.stdout)["checks"]}


def test_spec_11_a_mixed_roster_runs_on_admin_sign_in_only_like_each_reps_own_runs(tmp_path: Path) -> None:
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
        flows = add_admin_sign_in(team)
        assert set(flows.tables) == {"salesforce", "gmail", "microsoft365", "exchange"}
        # The policy and the reps' settings name the secrets' files, never their content.
        written = [flows.policy_file, *sorted((flows.folder / "users").glob("*.toml"))]
        texts = "".join(path.read_text(encoding="utf-8") for path in written)
        secrets: list[str] = []
        for secret_file in ("ews-password", "entra-app.pem", "salesforce-jwt.key"):
            lines = (flows.folder / secret_file).read_text(encoding="utf-8").strip().splitlines()
            secret = lines[min(1, len(lines) - 1)]  # a PEM's first line of key material
            assert secret not in texts and str(flows.folder / secret_file) in texts
            secrets.append(secret)
        of_kind = {
            k: [m for m in team.members if m.mailbox == k] for k in ("gmail", "microsoft365", "exchange")
        }
        routers = team.mailboxes.routers if team.mailboxes else {}
        graph = [routers["microsoft365"].tenants[m.name].state.identity for m in of_kind["microsoft365"]]
        # The reps' own sign-ins stop working: only the admin sign-in can open their mailboxes.
        for identity in graph:
            identity.revoke_all()
        for member in of_kind["exchange"]:
            state = routers["exchange"].tenants[member.name].state
            state.password = "changed-" + state.password

        home = tmp_path / "home"
        env = fleet_env(pg.url, home)
        rgsync(env, "fleet", "init", "--org-policy", str(flows.policy_file))
        rgsync(env, "fleet", "import", str(flows.roster_file))
        store = FleetStore(pg.url)
        for member in team.members:  # nor does the fleet database
            user = store.user(member.name)
            assert user is not None and not [s for s in secrets if s in user.settings]
        assert [run_user(store, home, m.name).status for m in team.members] == ["completed"] * REPS

        # Each mailbox was opened by the admin sign-in acting as its rep.
        assert {subject for _email, subject in flows.directory.issued} == {
            m.address for m in of_kind["gmail"]
        }
        assert all("client_credentials" in identity.sign_ins for identity in graph)
        for member in team.members:
            stored = json.loads(user_paths(home, member.name).credentials_file.read_text(encoding="utf-8"))
            kept = set(stored.get("secrets", stored))
            assert not [n for n in kept if n.startswith(MAILBOX_SECRETS)], (member.mailbox, kept)
            assert "salesforce.session" in kept  # the session issued for this rep, cached as usual
        fleet = _comparable(
            org_snapshot(team.salesforce.org, {m.name: m.salesforce_user_id for m in team.members})
        )
        # Rep numbers match across the two sandboxes (same roster order), so names compare.
        for member in team.members:
            assert fleet[member.name], f"{member.name} ({member.mailbox}) has no records"
            extra = fleet[member.name] - reference[member.name]
            lost = reference[member.name] - fleet[member.name]
            assert not extra and not lost, (
                f"{member.mailbox}: duplicated {sorted(extra)}; lost {sorted(lost)}"
            )

        # A second round saves nothing again (SPEC §7).
        assert [run_user(store, home, m.name).status for m in team.members] == ["completed"] * REPS
        again = _comparable(
            org_snapshot(team.salesforce.org, {m.name: m.salesforce_user_id for m in team.members})
        )
        assert again == fleet

        # `rgsync doctor --user` checks the admin sign-in end to end for the M365 and Exchange reps.
        m365, ews = of_kind["microsoft365"][-1], of_kind["exchange"][-1]
        checks = _doctor(env, m365.name)
        fleet_check = checks["Microsoft 365 sign-in for the fleet"]
        assert fleet_check["status"] == "ok" and "app-only" in fleet_check["detail"]
        assert m365.address in fleet_check["detail"]
        assert not [c for c in checks.values() if c["status"] == "error"], checks
        assert checks["Microsoft 365 mailbox"]["status"] == "ok"
        checks = _doctor(env, ews.name)
        fleet_check = checks["Exchange sign-in for the fleet"]
        assert fleet_check["status"] == "ok" and "impersonation" in fleet_check["detail"]
        assert not [c for c in checks.values() if c["status"] == "error"], checks
        assert checks["Exchange folders"]["status"] == "ok"
