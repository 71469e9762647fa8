"""Hostile command-line input gets one clear line and exit 2, never a traceback or a hang (SPEC §8,
§7.11). Every path lives in a temporary folder; special files are named pipes, never devices."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.system.cli_support import CliResult, invoke


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    for name in ("RGSYNC_CONFIG", "RGSYNC_PROFILE", "RGSYNC_STATE_DIR", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)


def _one_line(result: CliResult) -> str:
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err and "unexpected error" not in result.err
    return lines[0]


def test_spec_7_11_commands_on_a_fifo_settings_file_refuse_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "settings.toml"
    os.mkfifo(fifo)
    for args in (("settings", "list"), ("settings", "set", "history-days", "3"), ("run",), ("status",)):
        result = invoke(capsys, "--config", str(fifo), *args)
        assert result.code == 2, args
        assert "named pipe" in _one_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml"]  # no .rgsync-state either


def test_spec_7_11_a_profile_name_cannot_lead_out_of_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "deep" / "er" / "s.toml"
    result = invoke(
        capsys,
        "--config",
        str(config),
        "--profile",
        "../../../escaped",
        "settings",
        "set",
        "history-days",
        "3",
    )
    assert result.code == 2 and "not a simple name" in _one_line(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("folder", "is a folder"),
        ("loop", "loops back"),
        ("under-a-file", "a folder on its way is a file"),
        ("state-db-folder", "state.sqlite3 is a folder"),
        ("lock-folder", "run.lock is a folder"),
    ],
)
def test_spec_8_status_and_issues_say_what_is_wrong_with_a_path(
    setup: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "s.toml"
    if setup == "folder":
        config.mkdir()
    elif setup == "loop":
        (tmp_path / "other.toml").symlink_to(config)
        config.symlink_to(tmp_path / "other.toml")
    elif setup == "under-a-file":
        (tmp_path / "plain").write_text("", encoding="utf-8")
        config = tmp_path / "plain" / "s.toml"
    elif setup == "lock-folder":
        (tmp_path / ".rgsync-state" / "default" / "run.lock").mkdir(parents=True)
    else:
        (tmp_path / ".rgsync-state" / "default" / "state.sqlite3").mkdir(parents=True)
    for command in (("status",), ("issues", "list")):
        result = invoke(capsys, "--config", str(config), *command)
        assert result.code == 2, (setup, command)
        assert expected in _one_line(result)
        assert "no session has run yet" not in result.out


def test_spec_1_a_negative_number_after_a_key_gets_the_allowed_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "s.toml"
    result = invoke(capsys, "--config", str(config), "settings", "set", "calendar-past-days", "-1")
    assert result.code == 2
    assert "calendar-past-days expects a whole number from 0 to 365, not -1" in _one_line(result)
    assert not config.exists()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("salesforce.login-url", "https://[::1", "salesforce.login-url expects an https://"),
        ("salesforce.login-url", "https://my org.example.com", "holds spaces"),
        ("salesforce.instance-url", "https://" + "a" * 300 + ".example.com", "longer than DNS allows"),
        ("salesforce.login-url", "https://example.com:99999", "expects an https://"),
        ("mailbox.time-zone", "x" * 5000, "expects an IANA time zone"),
        ("contacts-view", "line\nbreak", "contacts-view holds control characters"),
        ("history-days", "1\n2\u202e", "not '1\\n2\\u202e'"),
    ],
)
def test_spec_1_a_bad_url_is_refused_by_settings_set(
    key: str, value: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "--config", str(tmp_path / "s.toml"), "settings", "set", key, value)
    assert result.code == 2 and expected in _one_line(result)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('instance-url = "https://[::1"', "salesforce.instance-url expects"),
        ('login-url = "https://exa mple.com"', "holds spaces"),
        ('login-url = "https://' + "h" * 5000 + '.com"', "too long"),
        ('ca-file = "\\u0000"', "NUL character"),
    ],
)
def test_spec_1_urls_and_paths_are_checked_when_the_file_is_loaded(
    line: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "s.toml"
    config.write_text(f"[salesforce]\n{line}\n", encoding="utf-8")
    result = invoke(capsys, "--config", str(config), "settings", "list")
    assert result.code == 2
    message = _one_line(result)
    assert expected in message and "line 2" in message


def test_spec_8_issues_since_far_back_gives_the_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "--config", str(tmp_path / "s.toml"), "issues", "list", "--since", "99999999d")
    assert result.code == 2 and "at most 36500d" in _one_line(result)
    assert (
        invoke(capsys, "--config", str(tmp_path / "s.toml"), "issues", "list", "--since", "36500d").code == 0
    )


def test_spec_9_connect_salesforce_refuses_a_port_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(
        capsys, "--config", str(tmp_path / "s.toml"), "connect", "salesforce", "--port", "99999999"
    )
    assert result.code == 2 and "0<=x<=65535" in result.err and "Traceback" not in result.err


def test_spec_9_connect_salesforce_checks_every_option_before_asking_for_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    monkeypatch.setattr("click.prompt", lambda text, **_: asked.append(text) or "secret")
    config = str(tmp_path / "s.toml")
    base = ("--config", config, "connect", "salesforce", "--auth", "password", "--username", "ann@acme.com")
    result = invoke(capsys, *base, "--api-version", "abc")
    assert result.code == 2 and "--api-version must be a Salesforce API version" in _one_line(result)
    result = invoke(capsys, *base, "--login-url", "https://" + "x" * 300 + ".com")
    assert result.code == 2 and "--login-url" in _one_line(result)
    result = invoke(capsys, *base, "--consumer-secret", "--timeout", "nan")
    assert result.code == 2 and "--timeout" in result.err
    assert asked == []  # no prompt came before the refusal
    assert not (tmp_path / ".rgsync-state" / "default" / "credentials.json").exists()
