"""`rgsync connect salesforce` and `rgsync doctor` as a user runs them, against the emulator (SPEC §9)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import requests

from rgsync.cli import connect_cmd
from rgsync.credentials import CredentialStore
from rgsync.providers.salesforce.auth import SECRET_REFRESH_TOKEN, SECRET_SESSION
from rgsync.sandbox.salesforce import DEFAULT_CLIENT_ID, RunningSalesforce, start_salesforce
from tests.system.cli_support import CliResult as Result
from tests.system.cli_support import invoke

USERS = [{"key": "ann", "Name": "Ann Lee", "Email": "ann@acme.com", "Username": "ann@acme.com"}]


@dataclass
class Profile:
    root: Path
    capsys: pytest.CaptureFixture[str]

    @property
    def settings(self) -> Path:
        return self.root / "settings.toml"

    @property
    def credentials(self) -> CredentialStore:
        return CredentialStore("default", self.root / ".rgsync-state" / "default" / "credentials.json")

    def run(self, *args: str) -> Result:
        return invoke(self.capsys, "--config", str(self.settings), *args)

    def salesforce_table(self) -> dict[str, Any]:
        return dict(tomllib.loads(self.settings.read_text()).get("salesforce", {}))


@pytest.fixture
def profile(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Profile:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    monkeypatch.delenv("RGSYNC_STATE_DIR", raising=False)
    monkeypatch.delenv("RGSYNC_PROFILE", raising=False)
    return Profile(tmp_path, capsys)


@pytest.fixture
def org(tmp_path: Path) -> Iterator[RunningSalesforce]:
    running = start_salesforce(tmp_path / "org", scenario={"users": USERS})
    try:
        yield running
    finally:
        running.stop()


def _answer_prompts(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    asked: list[str] = []
    queue = list(answers)

    def prompt(text: str, **_kwargs: Any) -> str:
        asked.append(text)
        return queue.pop(0)

    monkeypatch.setattr(click, "prompt", prompt)
    return asked


def test_connect_with_a_session_id_stores_the_secret_outside_the_settings(
    profile: Profile, org: RunningSalesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _answer_prompts(monkeypatch, org.token)
    result = profile.run(
        "--json",
        "connect",
        "salesforce",
        "--auth",
        "session",
        "--instance-url",
        org.url,
        "--ca-file",
        str(org.ca_file),
    )
    assert result.code == 0, result.err
    assert result.json["user_id"] == org.keys["ann"] and result.json["enhanced_email"] is True
    assert asked == ["Session id"]
    table = profile.salesforce_table()
    assert table["auth"] == "session" and table["instance-url"] == org.url
    assert org.token not in profile.settings.read_text()
    assert profile.credentials.get(SECRET_SESSION) == org.token


def test_connect_with_oauth_runs_the_browser_flow_and_keeps_the_refresh_token(
    profile: Profile, org: RunningSalesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages: list[str] = []

    def browser(url: str) -> None:
        # What the user's browser does: open the authorize page, follow the redirect home.
        pages.append(url)
        answer = requests.get(url, verify=str(org.ca_file), allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), answer.text
        requests.get(answer.headers["Location"], timeout=10)

    monkeypatch.setattr(connect_cmd, "OPEN_URL", browser)
    result = profile.run(
        "connect",
        "salesforce",
        "--auth",
        "oauth",
        "--login-url",
        org.url,
        "--consumer-key",
        DEFAULT_CLIENT_ID,
        "--ca-file",
        str(org.ca_file),
        "--port",
        "0",
        "--timeout",
        "10",
    )
    assert result.code == 0, result.err
    assert "Connected to Salesforce as ann@acme.com" in result.out
    assert "code_challenge_method=S256" in pages[0] and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in pages[0]
    assert profile.credentials.get(SECRET_REFRESH_TOKEN)
    table = profile.salesforce_table()
    assert (table["auth"], table["consumer-key"], table["login-url"], table["instance-url"]) == (
        "oauth",
        DEFAULT_CLIENT_ID,
        org.url,
        org.url,
    )
    assert profile.run("doctor").code == 0


def test_connect_refuses_options_that_cannot_work_in_one_line(profile: Profile) -> None:
    result = profile.run("connect", "salesforce", "--auth", "session")
    assert result.code == 2 and "--instance-url" in result.err and "Traceback" not in result.err
    result = profile.run(
        "connect",
        "salesforce",
        "--auth",
        "jwt",
        "--username",
        "a@b.c",
        "--consumer-key",
        "k",
        "--private-key-file",
        "/nope",
    )
    assert result.code == 2 and "/nope does not exist" in result.err


def test_a_refused_sign_in_says_what_to_run(
    profile: Profile, org: RunningSalesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answer_prompts(monkeypatch, "00D!wrong")
    result = profile.run(
        "connect", "salesforce", "--auth", "session", "--instance-url", org.url, "--ca-file", str(org.ca_file)
    )
    assert result.code == 1
    assert "could not connect to Salesforce" in result.err and "rgsync connect salesforce" in result.err
    assert "00D!wrong" not in result.err


def test_doctor_reports_each_salesforce_check(
    profile: Profile, org: RunningSalesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answer_prompts(monkeypatch, org.token)
    profile.run(
        "connect", "salesforce", "--auth", "session", "--instance-url", org.url, "--ca-file", str(org.ca_file)
    )
    result = profile.run("doctor", "--json")
    assert result.code == 0, result.out
    checks = {c["check"]: c for c in result.json["checks"]}
    assert result.json["ok"] is True
    for name in (
        "Settings",
        "Salesforce settings",
        "Sign-in",
        "API version",
        "Enhanced Email",
        "Permissions",
        "API allocation",
    ):
        assert checks[name]["status"] == "ok", checks[name]
    assert (
        checks["Optional key field"]["status"] == "notice"
        and "rgsync_Key__c" in checks["Optional key field"]["fix"]
    )


def test_doctor_names_the_fix_when_nothing_is_connected(profile: Profile) -> None:
    profile.settings.write_text(
        '[salesforce]\nauth = "session"\ninstance-url = "https://example.my.salesforce.com"\n'
    )
    result = profile.run("doctor", "--json")
    assert result.code == 1
    [failed] = [c for c in result.json["checks"] if c["status"] == "error"]
    assert failed["check"] == "Salesforce credentials" and failed["fix"] == "run `rgsync connect salesforce`"


def test_doctor_flags_an_api_version_the_org_does_not_offer(
    profile: Profile, org: RunningSalesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answer_prompts(monkeypatch, org.token)
    profile.run(
        "connect", "salesforce", "--auth", "session", "--instance-url", org.url, "--ca-file", str(org.ca_file)
    )
    assert profile.run("settings", "set", "salesforce.api-version", "99.0").code == 0
    result = profile.run("doctor", "--json")
    assert result.code == 1
    [version] = [c for c in result.json["checks"] if c["check"] == "API version"]
    assert version["status"] == "error" and "salesforce.api-version" in version["fix"]
