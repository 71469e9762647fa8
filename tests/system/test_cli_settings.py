"""`rgsync settings …` and `rgsync blocklist …` as a user runs them (SPEC §1)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit

from rgsync.settings import KEYS
from tests.system.cli_support import invoke

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read or write the real user's files."""
    for name in (
        "RGSYNC_CONFIG",
        "RGSYNC_ORG_POLICY",
        "RGSYNC_PROFILE",
        "RGSYNC_STATE_DIR",
        "VISUAL",
        "EDITOR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "cfg" / "settings.toml"


def rgsync(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    result = invoke(capsys, *argv)
    return result.code, result.out, result.err


# --- acceptance --------------------------------------------------------------------------------


def test_acceptance_set_get_and_hand_comment_survives(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, _ = rgsync(capsys, "--config", str(config), "settings", "set", "auto-save-emails", "on")
    assert code == 0 and config.exists()
    assert "Created" in out

    code, out, _ = rgsync(capsys, "--config", str(config), "settings", "get", "auto-save-emails")
    assert (code, out) == (0, "on\n")

    assert tomlkit.parse(config.read_text(encoding="utf-8"))["general"]["emails"]["auto-save"] is True  # type: ignore[index]
    lines = config.read_text(encoding="utf-8").splitlines()
    assert lines.index("auto-save = true") > lines.index("[general.emails]")

    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "[general.emails]\n", "[general.emails]\n# I turned this on.\n"
        ),
        encoding="utf-8",
    )
    code, _, _ = rgsync(capsys, "--config", str(config), "settings", "set", "history-days", "12")
    assert code == 0
    text = config.read_text(encoding="utf-8")
    assert "# I turned this on.\n" in text and "history-days = 12\n" in text


def test_acceptance_blocklist_add_normalises(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, _ = rgsync(
        capsys, "--config", str(config), "blocklist", "add", "Example.COM", "bob@Partner.io"
    )
    assert code == 0
    assert "added domain example.com" in out and "added address bob@partner.io" in out
    data = tomlkit.parse(config.read_text(encoding="utf-8")).unwrap()
    assert data["blocklist"]["domains"] == ["example.com"]
    assert data["blocklist"]["addresses"] == ["bob@partner.io"]


def test_acceptance_blocklist_add_malformed_exits_2(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, _, err = rgsync(capsys, "--config", str(config), "blocklist", "add", "not", "an", "address")
    assert code == 2
    assert "'not' is neither an email address nor a domain" in err and "nothing was changed" in err
    assert "Traceback" not in err
    assert not config.exists()


# --- errors -------------------------------------------------------------------------------------


def test_bad_toml_exits_2_naming_file_and_line(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_text("[sync]\nmax-deletes = \n", encoding="utf-8")
    code, _, err = rgsync(capsys, "--config", str(config), "settings", "list")
    assert code == 2
    assert err.startswith(f"rgsync: {config} line 2: not valid TOML")


def test_unknown_key_exits_2_with_did_you_mean(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, _, err = rgsync(capsys, "--config", str(config), "settings", "set", "auto-save-emial", "on")
    assert code == 2
    assert err == "rgsync: unknown setting 'auto-save-emial' — did you mean 'auto-save-emails'?\n"
    assert not config.exists()


def test_wrong_type_exits_2_and_leaves_the_file(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    rgsync(capsys, "--config", str(config), "settings", "set", "history-days", "7")
    before = config.read_bytes()
    code, _, err = rgsync(capsys, "--config", str(config), "settings", "set", "history-days", "61")
    assert code == 2
    assert "history-days expects a whole number from 0 to 60" in err
    assert config.read_bytes() == before


def test_forced_key_exits_2_saying_why(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[forced.sync]\nmax-deletes = 20\n", encoding="utf-8")
    rgsync(capsys, "--config", str(config), "settings", "set", "history-days", "7")
    before = config.read_bytes()
    code, _, err = rgsync(
        capsys, "--config", str(config), "--org-policy", str(policy), "settings", "set", "max-deletes", "99"
    )
    assert code == 2
    assert (
        f"max-deletes is forced to 20 by your org policy ({policy} line 2); only your admin can change it"
        in err
    )
    assert config.read_bytes() == before


def test_policy_from_the_environment(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[defaults.general.emails]\nhistory-days = 30\n", encoding="utf-8")
    monkeypatch.setenv("RGSYNC_ORG_POLICY", str(policy))
    monkeypatch.setenv("RGSYNC_CONFIG", str(config))
    code, out, _ = rgsync(capsys, "settings", "get", "history-days", "--json")
    assert code == 0 and json.loads(out) == {"key": "history-days", "value": 30, "source": "policy"}


# --- list / get / unset / path / validate ---------------------------------------------------------


def test_list_shows_every_key_with_value_and_source(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    rgsync(capsys, "--config", str(config), "settings", "set", "history-days", "9")
    code, out, _ = rgsync(capsys, "--config", str(config), "settings", "list")
    assert code == 0
    for key in KEYS:
        assert key.name in out, key.name
    row = next(line for line in out.splitlines() if "history-days" in line)
    assert "9" in row and "user" in row

    code, out, _ = rgsync(capsys, "--config", str(config), "settings", "list", "--json")
    payload = json.loads(out)
    assert [e["key"] for e in payload["settings"]] == [k.name for k in KEYS]
    by_key = {e["key"]: e for e in payload["settings"]}
    assert (by_key["history-days"]["value"], by_key["history-days"]["source"]) == (9, "user")
    assert (by_key["max-deletes"]["value"], by_key["max-deletes"]["source"]) == (50, "default")
    assert payload["mailbox"]["save-label"] == "Salesforce"


def test_show_marks_sources_like_list(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "[forced.sync]\nmax-deletes = 20\n[defaults.sync]\ninterval-minutes = 15\n", encoding="utf-8"
    )
    code, out, _ = rgsync(capsys, "--config", str(config), "--org-policy", str(policy), "settings", "show")
    assert code == 0
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│   ")}
    assert "forced" in rows["max-deletes"] and "20" in rows["max-deletes"]
    assert "policy" in rows["interval-minutes"] and "15" in rows["interval-minutes"]
    assert "default" in rows["history-days"]


def test_get_prints_lists_comma_separated(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    rgsync(capsys, "--config", str(config), "settings", "set", "internal-domains", "b.example,", "A.example")
    code, out, _ = rgsync(capsys, "--config", str(config), "settings", "get", "internal-domains")
    assert (code, out) == (0, "b.example,a.example\n")


def test_unset_returns_to_the_default(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    rgsync(capsys, "--config", str(config), "settings", "set", "auto-save-threads", "yes")
    code, out, _ = rgsync(capsys, "--config", str(config), "settings", "unset", "auto-save-threads")
    assert code == 0 and "auto-save-threads = off (default)" in out
    _, out, _ = rgsync(capsys, "--config", str(config), "settings", "get", "auto-save-threads")
    assert out == "off\n"


def test_path_prints_the_settings_file(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, _ = rgsync(capsys, "--config", str(config), "settings", "path")
    assert (code, out) == (0, f"{config}\n")


def test_validate_lists_every_problem(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_text("[sync]\nmax-deletes = -5\n\n[linking]\nlink-to-opportunity = true\n", encoding="utf-8")
    code, _, err = rgsync(capsys, "--config", str(config), "settings", "validate")
    assert code == 2
    assert f"{config} line 2: max-deletes expects a whole number from 0 to 100000" in err
    assert (
        f"{config} line 5: unknown setting 'linking.link-to-opportunity' — did you mean 'link-to-opportunities'?"
        in err
    )

    config.write_text("[sync]\nmax-deletes = 5\n", encoding="utf-8")
    code, out, _ = rgsync(capsys, "--config", str(config), "settings", "validate")
    assert code == 0 and "is valid" in out


# --- edit -------------------------------------------------------------------------------------------


def _editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_text: str) -> None:
    """Point $EDITOR at a script that replaces the file's content with `new_text`."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\npathlib.Path(sys.argv[1]).write_text(pathlib.Path(sys.argv[0]).with_suffix('.txt').read_text())\n",
        encoding="utf-8",
    )
    script.with_suffix(".txt").write_text(new_text, encoding="utf-8")
    monkeypatch.setenv("EDITOR", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}")


def test_edit_keeps_a_valid_edit(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _editor(tmp_path, monkeypatch, "# mine\n[sync]\nmax-deletes = 5\n")
    code, out, _ = rgsync(capsys, "--config", str(config), "settings", "edit")
    assert code == 0 and "Saved" in out
    assert config.read_text(encoding="utf-8") == "# mine\n[sync]\nmax-deletes = 5\n"


def test_edit_refuses_an_invalid_file_and_restores(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rgsync(capsys, "--config", str(config), "settings", "set", "history-days", "7")
    before = config.read_bytes()
    config.chmod(0o640)
    _editor(tmp_path, monkeypatch, "[sync]\nmax-deletes = 'many'\n")
    code, _, err = rgsync(capsys, "--config", str(config), "settings", "edit")
    assert code == 2
    assert "line 2: max-deletes expects a whole number" in err and "was restored" in err
    assert config.read_bytes() == before
    assert config.stat().st_mode & 0o777 == 0o640
    assert (
        config.with_name("settings.toml.rejected").read_text(encoding="utf-8")
        == "[sync]\nmax-deletes = 'many'\n"
    )


def test_edit_of_a_new_file_that_turns_invalid_leaves_no_file(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _editor(tmp_path, monkeypatch, "[sync\n")
    code, _, err = rgsync(capsys, "--config", str(config), "settings", "edit")
    assert code == 2 and "not valid TOML" in err and "was not created" in err
    assert not config.exists()


# --- blocklist list ---------------------------------------------------------------------------------


def test_blocklist_list_shows_the_three_layers(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[blocklist]\ndomains = ["competitor.example"]\n', encoding="utf-8")
    rgsync(capsys, "--config", str(config), "blocklist", "add", "partner.io")
    code, out, _ = rgsync(capsys, "--config", str(config), "--org-policy", str(policy), "blocklist", "list")
    assert code == 0
    assert "partner.io" in out and "competitor.example" in out
    assert "Free-mail domains: on" in out
    code, out, _ = rgsync(
        capsys, "--config", str(config), "--org-policy", str(policy), "blocklist", "list", "--json"
    )
    payload = json.loads(out)
    assert payload["user"]["domains"] == ["partner.io"]
    assert payload["org"]["domains"] == ["competitor.example"]
    assert payload["free_mail"]["on"] is True and payload["free_mail"]["domains"] > 1000


def test_blocklist_remove(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    rgsync(capsys, "--config", str(config), "blocklist", "add", "partner.io", "a@b.example")
    code, out, _ = rgsync(
        capsys, "--config", str(config), "blocklist", "remove", "@Partner.IO", "zed@b.example"
    )
    assert code == 0
    assert (
        "removed domain partner.io" in out
        and "unchanged address zed@b.example — not in your blocklist" in out
    )
    _, out, _ = rgsync(capsys, "--config", str(config), "settings", "get", "blocklist-domains")
    assert out == "\n"


# --- examples ---------------------------------------------------------------------------------------


def test_example_settings_lists_every_key_with_meaning_and_default() -> None:
    text = (EXAMPLES / "settings.toml").read_text(encoding="utf-8")
    data = tomlkit.parse(text).unwrap()
    assert set(data) >= {"general", "linking", "blocklist", "sync", "mailbox", "salesforce"}
    for key in KEYS:
        assert f"# {key.name}: {key.help}" in text, key.name
        assert f"# {key.leaf} = " in text, key.name


def test_example_settings_is_the_current_template() -> None:
    from rgsync.settings.template import render_example

    assert (EXAMPLES / "settings.toml").read_text(encoding="utf-8") == render_example(), (
        "examples/settings.toml is stale: regenerate it as the docstring of rgsync.settings.template says"
    )


def test_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = rgsync(
        capsys,
        "--config",
        str(EXAMPLES / "settings.toml"),
        "--org-policy",
        str(EXAMPLES / "org-policy.toml"),
        "settings",
        "validate",
    )
    assert code == 0, err


def test_runs_as_a_module_in_a_subprocess(config: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rgsync", "--config", str(config), "settings", "set", "history-days", "abc"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == "rgsync: history-days expects a whole number from 0 to 60, not 'abc'\n"
