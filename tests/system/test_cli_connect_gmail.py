"""`rgsync connect gmail` and the Google part of `rgsync doctor` (SPEC §9), against the loopback
Google emulator: what lands in settings.toml, what in the credentials store, and the one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from rgsync.providers.google import auth
from rgsync.sandbox.google import RunningGoogle, start_google
from tests.system.cli_support import invoke


@pytest.fixture
def google() -> Iterator[RunningGoogle]:
    running = start_google()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    for name in ("RGSYNC_CONFIG", "RGSYNC_STATE_DIR", "RGSYNC_PROFILE", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "settings.toml"


class Outcome:
    """Exit code and what the command printed (stdout and stderr together)."""

    def __init__(self, exit_code: int, output: str) -> None:
        self.exit_code = exit_code
        self.output = output


@pytest.fixture
def rgsync(config: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*args: str) -> Outcome:
        result = invoke(capsys, "--config", str(config), *args)
        return Outcome(result.code, result.out + result.err)

    return run


def secrets(config: Path) -> dict[str, str]:
    files = list(config.parent.glob(".rgsync-state/*/credentials.json"))
    assert len(files) == 1
    return dict(json.loads(files[0].read_text())["secrets"])


def test_connect_with_an_access_token_from_the_environment(
    google: RunningGoogle, config: Path, rgsync: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_TOKEN", google.token)
    result = rgsync("connect", "gmail", "--token-from-env", "SANDBOX_TOKEN", "--api-url", google.url)
    assert result.exit_code == 0, result.output
    assert f"Connected to Gmail as {google.address}" in result.output
    text = config.read_text()
    assert 'provider = "gmail"' in text and f'address = "{google.address}"' in text and google.url in text
    assert google.token not in text  # secrets never go into settings.toml
    assert secrets(config) == {auth.ACCESS_TOKEN: google.token}


def test_connect_with_the_browser_sign_in_stores_the_refresh_token(
    google: RunningGoogle, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rgsync: Any
) -> None:
    client = tmp_path / "client_secret.json"
    client.write_text('{"installed": {"client_id": "c", "client_secret": "s"}}')
    seen: dict[str, Any] = {}

    def fake_sign_in(path: Path, **kwargs: Any) -> Credentials:
        seen.update(path=path, **kwargs)
        return Credentials(token=google.token, refresh_token="1//refresh", client_id="c", client_secret="s")

    monkeypatch.setattr(auth, "sign_in", fake_sign_in)
    result = rgsync(
        "connect", "gmail", "--client-secrets", str(client), "--no-browser", "--api-url", google.url
    )
    assert result.exit_code == 0, result.output
    assert seen["path"] == client and seen["open_browser"] is False
    stored = json.loads(secrets(config)[auth.TOKEN])
    assert stored["refresh_token"] == "1//refresh"
    assert "client-secrets-file" in config.read_text()
    # Next time the remembered client file is used without the option.
    again = rgsync("connect", "gmail")
    assert again.exit_code == 0, again.output
    assert seen["path"] == client


def test_connect_without_a_client_file_says_where_to_get_one(rgsync: Any) -> None:
    result = rgsync("connect", "gmail")
    assert result.exit_code == 2
    assert "--client-secrets" in result.output and "Desktop app" in result.output


def test_connect_with_an_empty_variable_is_refused(rgsync: Any) -> None:
    result = rgsync("connect", "gmail", "--token-from-env", "NOT_SET_ANYWHERE")
    assert result.exit_code == 2 and "NOT_SET_ANYWHERE" in result.output


def test_a_refused_token_is_one_line_naming_the_fix(
    google: RunningGoogle, config: Path, rgsync: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T", "wrong")
    result = rgsync("connect", "gmail", "--token-from-env", "T", "--api-url", google.url)
    assert result.exit_code == 1
    assert "rgsync connect gmail" in result.output and "Traceback" not in result.output
    assert not config.exists() or "gmail" not in config.read_text()


def test_doctor_checks_the_sign_in_and_each_google_api(
    google: RunningGoogle, rgsync: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_TOKEN", google.token)
    assert (
        rgsync("connect", "gmail", "--token-from-env", "SANDBOX_TOKEN", "--api-url", google.url).exit_code
        == 0
    )
    result = rgsync("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(result.output)["checks"]}
    for name in ("Gmail sign-in", "Gmail API", "Calendar API", "Tasks API", "People API"):
        assert checks[name]["status"] == "ok", checks[name]
    assert google.address in checks["Gmail API"]["detail"]


def test_doctor_names_the_fix_when_google_refuses_the_token(
    google: RunningGoogle, rgsync: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_TOKEN", google.token)
    assert (
        rgsync("connect", "gmail", "--token-from-env", "SANDBOX_TOKEN", "--api-url", google.url).exit_code
        == 0
    )
    google.server.emulator.token = "rotated"  # type: ignore[attr-defined]
    result = rgsync("doctor", "--json")
    assert result.exit_code == 1
    checks = {c["check"]: c for c in json.loads(result.output)["checks"]}
    assert checks["Gmail API"]["status"] == "error"
    assert "rgsync connect gmail" in checks["Gmail API"]["fix"]
    assert "Calendar API" not in checks  # the same refusal is not repeated for every API
