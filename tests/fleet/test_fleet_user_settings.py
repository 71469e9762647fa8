"""`rgsync settings … --user NAME` and `rgsync blocklist … --user NAME`: a fleet user's settings
layer in the fleet database, layered under the fleet's org policy exactly like the file layers
(SPEC §1), with the same checks, messages and exit codes (SPEC §8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rgsync.errors import EXIT_FAILED, EXIT_USAGE
from rgsync.fleet.home import write_profile
from rgsync.fleet.store import FleetStore, FleetUser
from rgsync.fleet.user_settings import user_layer
from rgsync.settings import load_settings
from tests.system.cli_support import invoke

POLICY = """
[defaults.general.emails]
history-days = 14

[forced.general.emails]
save-as = "email-message"

[blocklist]
domains = ["rival.com"]
"""

ANN = """[mailbox]
provider = "gmail"
address = "ann@acme.com"

[salesforce]
username = "ann@acme.com"
"""


@pytest.fixture
def fleet(pg_database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FleetStore:
    """A fleet database holding user ann (no value of her own yet) under an org policy."""
    for name in ("RGSYNC_STATE_DIR", "RGSYNC_PROFILE", "RGSYNC_ORG_POLICY", "RGSYNC_FLEET_HOME"):
        monkeypatch.delenv(name, raising=False)
    # The admin's own settings file must not be where a fleet user's edit lands.
    monkeypatch.setenv("RGSYNC_CONFIG", str(tmp_path / "admin" / "settings.toml"))
    monkeypatch.setenv("RGSYNC_STATE_URL", pg_database)
    store = FleetStore(pg_database)
    store.create_schema()
    store.set_meta("org_policy", POLICY)
    store.upsert_users([FleetUser("ann", "gmail", "ann@acme.com", "ann@acme.com", ANN)])
    return store


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    result = invoke(capsys, *argv)
    return result.code, result.out, result.err


def _layer(store: FleetStore) -> str:
    user = store.user("ann")
    assert user is not None
    return user.settings


def test_spec_1_set_get_unset_edit_the_users_layer_in_the_database_under_the_org_policy(
    fleet: FleetStore, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _cli(capsys, "settings", "get", "history-days", "--user", "ann", "--json")
    assert code == 0, err
    assert json.loads(out) == {"key": "history-days", "value": 14, "source": "policy"}

    code, out, err = _cli(capsys, "settings", "--user", "ann", "set", "history-days", "30")
    assert code == 0, err
    assert "history-days = 30 for ann" in out
    assert "history-days = 30" in _layer(fleet)
    assert "[mailbox]" in _layer(fleet)  # the rest of her layer is kept
    code, out, _err = _cli(capsys, "settings", "get", "history-days", "--user", "ann")
    assert (code, out.strip()) == (0, "30")

    # The worker's session reads exactly this layer, under the fleet's policy.
    user = fleet.user("ann")
    assert user is not None
    paths = write_profile(
        tmp_path / "home", "ann", user.settings, fleet.get_meta("org_policy"), state_url=None
    )
    seen = load_settings(paths.settings_file, paths.org_policy_file)
    assert seen.value("history-days") == 30 and seen.source("history-days") == "user"
    assert seen.value("save-emails-as") == "email-message" and seen.source("save-emails-as") == "forced"

    code, out, err = _cli(capsys, "settings", "unset", "history-days", "--user", "ann")
    assert code == 0, err
    assert "history-days = 14 (policy) for ann" in out
    code, out, _err = _cli(capsys, "settings", "show", "--user", "ann", "--json")
    shown = json.loads(out)
    assert shown["user"] == "ann" and "fleet database" in shown["settings_file"]
    assert shown["mailbox"]["address"] == "ann@acme.com"
    # The admin's own settings file was never created.
    assert not (tmp_path / "admin" / "settings.toml").exists()


def test_spec_8_a_bad_value_or_a_forced_key_is_refused_as_for_a_file_and_nothing_is_written(
    fleet: FleetStore, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    before = _layer(fleet)
    # The same commands against a settings file under the same policy: the reference messages.
    file, policy = tmp_path / "own.toml", tmp_path / "policy.toml"
    file.write_text(ANN)
    policy.write_text(POLICY)
    own = ["--config", str(file), "--org-policy", str(policy)]
    for change in (
        ["set", "history-days", "lots"],
        ["set", "save-emails-as", "task"],
        ["set", "no-such-key", "1"],
    ):
        code, out, err = _cli(capsys, "settings", *change, "--user", "ann")
        ref_code, _ref_out, ref_err = _cli(capsys, *own, "settings", *change)
        assert code == ref_code == EXIT_USAGE, (change, err)
        assert out == "" and err.count("\n") == 1 and "Traceback" not in err
        assert (
            err.replace("ann's settings in the fleet database", str(file)).replace(
                "the fleet's org policy", str(policy)
            )
            == ref_err
        )
        assert str(tmp_path) not in err or str(file) not in err  # no scratch path leaks
        assert "rgsync-user-layer" not in err
    assert _layer(fleet) == before


def test_spec_8_an_unknown_user_names_the_user_and_fleet_list(
    fleet: FleetStore, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["settings", "set", "history-days", "3", "--user", "bob"],
        ["settings", "show", "--user", "bob"],
        ["blocklist", "add", "x.com", "--user", "bob"],
    ):
        code, out, err = _cli(capsys, *argv)
        assert code == EXIT_USAGE and out == ""
        assert err == "rgsync: no user 'bob' in the fleet; `rgsync fleet list` shows who is\n"


def test_spec_8_no_or_an_unreachable_fleet_database_is_one_line(
    fleet: FleetStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("RGSYNC_STATE_URL")
    code, _out, err = _cli(capsys, "settings", "get", "history-days", "--user", "ann")
    assert code == EXIT_USAGE and err.count("\n") == 1 and "--state-url" in err
    nowhere = f"postgresql://rgsync@/rgsync?host={tmp_path}&port=9"
    code, _out, err = _cli(capsys, "--state-url", nowhere, "settings", "get", "history-days", "--user", "ann")
    assert code == EXIT_FAILED and err.count("\n") == 1
    assert err.startswith("rgsync: cannot reach the fleet database") and "--state-url" in err
    # A fleet user has no settings file to print or open in an editor.
    monkeypatch.setenv("RGSYNC_STATE_URL", fleet.url)
    for command in ("path", "edit"):
        code, _out, err = _cli(capsys, "settings", command, "--user", "ann")
        assert code == EXIT_USAGE and "fleet database" in err and err.count("\n") == 1


def test_spec_3_2_blocklist_add_and_remove_edit_the_users_layer(
    fleet: FleetStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, "blocklist", "add", "--user", "ann", "globex.com", "rival.com")
    assert code == 0, err
    # The fleet's org blocklist is the one she is layered under.
    assert "added domain globex.com\n" in out and "rival.com — also on the org blocklist" in out
    code, out, _err = _cli(capsys, "blocklist", "list", "--user", "ann", "--json")
    listed = json.loads(out)
    assert listed["user"]["domains"] == ["globex.com", "rival.com"]
    assert listed["org"]["domains"] == ["rival.com"]
    assert "globex.com" in _layer(fleet)
    code, out, err = _cli(capsys, "blocklist", "remove", "--user", "ann", "globex.com", "rival.com")
    assert code == 0 and "removed domain globex.com" in out, err
    assert "org blocklist" in out  # rival.com stays blocked by the org
    assert "globex.com" not in _layer(fleet) and "rival.com" not in _layer(fleet)
    # A malformed value: nothing written, one line, exit 2 (as for a file).
    before = _layer(fleet)
    code, _out, err = _cli(capsys, "blocklist", "add", "--user", "ann", "ok.com", "not a domain!")
    assert code == EXIT_USAGE and err.count("\n") == 1 and _layer(fleet) == before


def test_an_edit_made_meanwhile_by_another_admin_is_not_overwritten(fleet: FleetStore) -> None:
    from rgsync.errors import RgsyncError
    from rgsync.settings import set_value

    with (
        pytest.raises(RgsyncError, match="changed in the fleet database"),
        user_layer(fleet.url, "ann") as files,
    ):
        fleet.set_settings("ann", ANN + "\n# edited elsewhere\n")
        set_value(files.settings_file, "history-days", "9", files.policy_file)
    assert _layer(fleet).endswith("# edited elsewhere\n")


def test_spec_8_validate_names_the_users_layer_and_its_lines_never_a_scratch_file(
    fleet: FleetStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, "settings", "validate", "--user", "ann")
    assert code == 0 and "ann's settings in the fleet database are valid." in out, err
    # A layer broken behind rgsync's back (an old import, a hand edit in the database).
    fleet.set_settings("ann", ANN + "\n[general.emails]\nhistory-days = -3\nauto-save-threads = 7\n")
    code, out, err = _cli(capsys, "settings", "validate", "--user", "ann", "--json")
    assert code == EXIT_USAGE
    problems = json.loads(out)["problems"]
    assert len(problems) == 2
    assert {p["file"] for p in problems} == {"ann's settings in the fleet database"}
    assert all(p["message"].startswith("ann's settings in the fleet database line ") for p in problems)
    assert "rgsync-user-layer" not in out + err and err.count("\n") == 2  # every problem, one line each
