"""The fleet commands' error paths (SPEC §8: one line naming the thing and the fix, the right exit
code, nothing half done) and `fleet status --json` after a round of sessions (SPEC §11)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from rgsync.errors import EXIT_FAILED, EXIT_USAGE
from rgsync.fleet.store import FleetStore
from tests.fleet.fleet_support import isolate_env
from tests.system.cli_support import invoke

GOOD = "ann,gmail,ann@acme.com,ann@acme.com"
HEADER = "name,mailbox,address,salesforce_username"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_env(monkeypatch)
    monkeypatch.setenv("RGSYNC_FLEET_HOME", str(tmp_path / "home"))


@pytest.fixture
def fleet_url(pg_database: str) -> str:
    """A fleet database with its tables and no user yet."""
    FleetStore(pg_database).create_schema()
    return pg_database


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    result = invoke(capsys, *argv)
    return result.code, result.out, result.err


def _one_line(err: str) -> str:
    assert err.startswith("rgsync: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            ["name,mailbox,address", "ann,gmail,ann@acme.com"],
            ["line 1", "missing column(s) salesforce_username", "the header must name"],
            id="missing-column",
        ),
        pytest.param(
            [HEADER, GOOD, "bob,yahoo,bob@acme.com,bob@acme.com"],
            ["line 3", "mailbox 'yahoo' is unknown", "use one of gmail, exchange, microsoft365"],
            id="unknown-mailbox-kind",
        ),
        pytest.param(
            [HEADER, GOOD, "bob,gmail,bob-at-acme.com,bob@acme.com"],
            ["line 3", "address 'bob-at-acme.com' is not an address like ann@acme.com"],
            id="bad-address",
        ),
        pytest.param(
            [HEADER, GOOD, "ann,exchange,ann2@acme.com,ann2@acme.com"],
            ["line 3", "user 'ann' is already on line 2", "keep one row per user"],
            id="duplicate-name",
        ),
        pytest.param(
            [HEADER, GOOD, "bob,gmail,bob@acme.com,"],
            ["line 3", "salesforce_username is empty", "fill it in"],
            id="empty-cell",
        ),
        pytest.param(
            [HEADER + ",history-days", GOOD + ",7", "bob,gmail,bob@acme.com,bob@acme.com,lots"],
            ["line 3", "history-days", "'lots'"],
            id="bad-override-value",
        ),
        pytest.param(
            [HEADER + ",colour", GOOD + ",red"],
            ["line 1", "column 'colour' is neither a roster column nor a settings key", "rename or remove"],
            id="unknown-column",
        ),
    ],
)
def test_spec_8_a_bad_roster_row_is_one_line_naming_the_row_and_nothing_is_imported(
    fleet_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str], expected: list[str]
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = _cli(capsys, "fleet", "--state-url", fleet_url, "import", str(roster))
    assert code == EXIT_USAGE and out == ""
    line = _one_line(err)
    assert f"roster {roster}" in line
    for part in expected:
        assert part in line, line
    # Not even the good rows before the bad one are in the fleet.
    assert FleetStore(fleet_url).users() == []


def test_spec_8_a_bad_value_in_a_rows_settings_file_names_the_row_and_the_file(
    fleet_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "bob.toml"
    settings.write_text("[general.emails]\nhistory-days = -3\n", encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(f"{HEADER},settings\n{GOOD},\nbob,gmail,bob@acme.com,bob@acme.com,bob.toml\n")
    code, _out, err = _cli(capsys, "fleet", "--state-url", fleet_url, "import", str(roster))
    assert code == EXIT_USAGE
    line = _one_line(err)
    assert f"roster {roster} line 3" in line and "history-days" in line
    assert line.count(str(settings)) == 1  # named once, never the scratch copy
    assert FleetStore(fleet_url).users() == []


def test_spec_8_an_unreachable_fleet_database_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = f"postgresql://rgsync@/fleet?host={tmp_path}&port=9"
    roster = tmp_path / "roster.csv"
    roster.write_text(f"{HEADER}\n{GOOD}\n")
    for command in (
        ["init"],
        ["list"],
        ["status", "--json"],
        ["import", str(roster)],
        ["remove", "ann"],
        ["schedule"],
        # A worker started against a wrong URL says so at once instead of retrying for ever.
        ["worker", "--until-idle"],
    ):
        code, out, err = _cli(capsys, "fleet", "--state-url", nowhere, *command)
        assert code == EXIT_FAILED, (command, err)
        line = _one_line(err)
        assert line.startswith("rgsync: cannot reach the fleet database") and "--state-url" in line, command
        assert out == "" or command == ["worker", "--until-idle"]


def test_spec_8_a_missing_or_wrong_kind_of_state_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _out, err = _cli(capsys, "fleet", "list")
    assert code == EXIT_USAGE and "--state-url" in _one_line(err)
    code, _out, err = _cli(capsys, "fleet", "--state-url", "postgresql://admin:hunter2@db/fleet", "list")
    assert code == EXIT_USAGE and "hunter2" not in err and "PGPASSFILE" in _one_line(err)
    code, _out, err = _cli(capsys, "fleet", "--state-url", "sqlite:///tmp/x.sqlite3", "list")
    assert code == EXIT_USAGE and "postgresql://" in _one_line(err)


def test_spec_8_removing_or_resuming_an_unknown_user_names_them_and_fleet_list(
    fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("remove", "resume"):
        code, out, err = _cli(capsys, "fleet", "--state-url", fleet_url, command, "zed")
        assert code == EXIT_USAGE and out == ""
        assert _one_line(err) == "rgsync: no user 'zed' in the fleet; `rgsync fleet list` shows who is"


def test_spec_11_fleet_status_json_after_a_round(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SPEC §11: per user the last session, its result, next due time, issues and API calls; the
    org totals are the sums; a user who never ran is due now."""
    from rgsync.demo.team import start_team_sandbox
    from rgsync.fleet.runner import run_user
    from tests.fleet.fleet_support import throwaway_postgres

    with throwaway_postgres() as pg, start_team_sandbox(tmp_path / "team", users=3) as team:
        url = pg.url
        assert _cli(capsys, "fleet", "--state-url", url, "init")[0] == 0
        assert _cli(capsys, "fleet", "--state-url", url, "import", str(team.roster_file))[0] == 0
        store = FleetStore(url)
        ran, idle = [m.name for m in team.members[:2]], team.members[2].name
        for name in ran:
            assert run_user(store, tmp_path / "home", name).status == "completed"
        code, out, err = _cli(capsys, "fleet", "--state-url", url, "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert set(status) >= {"users", "totals"}
    by_name = {row["user"]: row for row in status["users"]}
    assert sorted(by_name) == sorted([*ran, idle])
    for name in ran:
        row = by_name[name]
        assert row["state"] == "active" and row["stopped_reason"] is None
        assert row["last_result"] == "completed" and row["sessions"] == 1
        assert datetime.fromisoformat(row["last_session"]) <= datetime.fromisoformat(row["next_due"])
        assert row["api_calls"]["salesforce"] > 0 and row["api_calls"]["mailbox"] > 0
        assert isinstance(row["open_issues"], int)
    never = by_name[idle]
    assert never["last_session"] is None and never["last_result"] is None and never["sessions"] == 0
    totals = status["totals"]
    assert totals["users"] == 3 and totals["stopped"] == 0 and totals["sessions"] == 2
    assert totals["due_now"] >= 1  # the user who never ran
    for side in ("salesforce", "mailbox"):
        assert totals["api_calls"][side] == sum(r["api_calls"][side] for r in status["users"])
    assert totals["open_issues"] == sum(r["open_issues"] for r in status["users"])


def test_spec_8_the_team_sandbox_refuses_an_unknown_kind_and_mixed_without_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rgsync.demo.team import start_team_sandbox
    from rgsync.errors import UsageError

    with pytest.raises(
        UsageError, match=r"no 'yahoo' mailboxes; use --mailbox gmail\|microsoft365\|exchange\|mixed"
    ):
        start_team_sandbox(tmp_path / "team", users=2, mailbox="yahoo")
    code, out, err = _cli(capsys, "sandbox", "serve", "--dir", str(tmp_path / "one"), "--mailbox", "mixed")
    assert code == EXIT_USAGE and out == "" and "--mailbox mixed needs --users N" in err
    assert not (tmp_path / "one").exists()
