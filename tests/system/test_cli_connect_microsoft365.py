"""`rgsync connect microsoft365` and the Microsoft 365 part of `rgsync doctor` (SPEC §9), against
the Graph emulator: the device-code sign-in as a user sees it, app-only sign-in for admins, what
lands in settings.toml and the credentials store, and the one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rgsync.cli import connect_cmd
from rgsync.providers.microsoft365.auth import CLIENT_SECRET, TOKEN_CACHE
from rgsync.sandbox.graph import RunningGraph, start_graph
from tests.system.cli_support import invoke


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[RunningGraph]:
    running = start_graph(
        tmp_path / "sandbox", scenario={"user": {"address": "ann@acme.com", "name": "Ann Lee"}}
    )
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
    monkeypatch.setenv("COLUMNS", "200")
    waits: list[float] = []
    monkeypatch.setattr(connect_cmd, "SLEEP", waits.append)
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


def _endpoints(graph: RunningGraph) -> list[str]:
    return [
        "--client-id", graph.client_id,
        "--tenant-id", graph.tenant_id,
        "--authority-url", graph.url,
        "--graph-url", graph.graph_url,
        "--ca-file", str(graph.ca_file),
    ]  # fmt: skip


def _secrets(config: Path) -> dict[str, str]:
    [found] = config.parent.glob(".rgsync-state/*/credentials.json")
    return dict(json.loads(found.read_text())["secrets"])


def test_connect_signs_in_with_a_device_code_and_doctor_finds_everything_readable(
    graph: RunningGraph, config: Path, rgsync: Any
) -> None:
    result = rgsync("connect", "microsoft365", *_endpoints(graph))
    assert result.exit_code == 0, result.output
    assert f"{graph.url}/devicelogin" in result.output and "enter the code" in result.output
    assert "Connected to Microsoft 365 mailbox ann@acme.com with your sign-in" in result.output
    text = config.read_text()
    assert (
        'provider = "microsoft365"' in text and 'address = "ann@acme.com"' in text and graph.client_id in text
    )
    assert list(_secrets(config)) == [TOKEN_CACHE] and "RefreshToken" not in text
    doctor = rgsync("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(doctor.output)["checks"]}
    for name in (
        "Microsoft 365 sign-in",
        "Microsoft 365 mailbox",
        "Microsoft 365 Mail",
        "Microsoft 365 Calendar",
        "Microsoft 365 To Do",
        "Microsoft 365 Contacts",
    ):
        assert checks[name]["status"] == "ok", checks[name]


def test_app_only_connect_stores_the_secret_and_acts_on_the_given_mailbox(
    graph: RunningGraph, config: Path, rgsync: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_SECRET", graph.client_secret)
    result = rgsync(
        "connect",
        "microsoft365",
        *_endpoints(graph),
        "--app-only",
        "--address",
        "ann@acme.com",
        "--client-secret-from-env",
        "APP_SECRET",
    )
    assert result.exit_code == 0, result.output
    assert "as the app (client credentials)" in result.output
    assert _secrets(config) == {CLIENT_SECRET: graph.client_secret}
    assert graph.client_secret not in config.read_text()
    # The mailbox itself is read, so the app needs no User.Read.All.
    assert ("GET", "/v1.0/users/ann@acme.com/mailFolders/inbox") in graph.server.log


def test_connect_errors_are_one_line_with_the_fix(
    graph: RunningGraph, config: Path, rgsync: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_client = rgsync("connect", "microsoft365")
    assert (
        no_client.exit_code == 2
        and "mailbox.client-id is not set" in no_client.output
        and "Traceback" not in no_client.output
    )
    assert rgsync("connect", "microsoft365", "--app-only").exit_code == 2
    monkeypatch.setenv("APP_SECRET", "wrong")
    wrong = rgsync(
        "connect",
        "microsoft365",
        *_endpoints(graph),
        "--app-only",
        "--address",
        "ann@acme.com",
        "--client-secret-from-env",
        "APP_SECRET",
    )
    assert (
        wrong.exit_code == 1 and "Invalid client secret" in wrong.output and "Traceback" not in wrong.output
    )
    assert not config.exists() or "microsoft365" not in config.read_text()


def test_doctor_says_how_to_reconnect_after_the_sign_in_was_revoked(
    graph: RunningGraph, config: Path, rgsync: Any
) -> None:
    assert rgsync("connect", "microsoft365", *_endpoints(graph)).exit_code == 0
    graph.state.revoke_tokens()
    doctor = rgsync("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(doctor.output)["checks"]}
    assert doctor.exit_code == 1
    sign_in = checks["Microsoft 365 sign-in"]
    assert sign_in["status"] == "error" and "rgsync connect microsoft365" in sign_in["fix"]
