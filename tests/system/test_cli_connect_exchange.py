"""`rgsync connect exchange` and the Exchange part of `rgsync doctor` (SPEC §9), against the EWS
emulator: what lands in settings.toml, what in the credentials store, and the one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click.termui
import pytest

from rgsync.cli import main
from rgsync.sandbox.ews import RunningEws, start_ews


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    running = start_ews()
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


@pytest.fixture
def rgsync(config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    def run(*args: str, password: str = "") -> tuple[int, str]:
        asked: list[str] = []

        def type_password(prompt: str) -> str:
            asked.append(prompt)
            return password

        monkeypatch.setattr(click.termui, "hidden_prompt_func", type_password)
        try:
            main(["--config", str(config), *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out + err

    return run


def stored_secrets(config: Path) -> dict[str, str]:
    files = list(config.parent.glob(".rgsync-state/*/credentials.json"))
    return dict(json.loads(files[0].read_text())["secrets"]) if files else {}


def connect(rgsync: Any, ews: RunningEws, password: str) -> tuple[int, str]:
    return rgsync(
        "connect",
        "exchange",
        "--address",
        ews.address,
        "--ews-url",
        ews.url,
        "--auth-type",
        "basic",
        password=password,
    )


def test_connect_checks_the_password_then_keeps_it_out_of_the_settings(
    rgsync: Any, ews: RunningEws, config: Path
) -> None:
    code, output = connect(rgsync, ews, ews.password)
    assert code == 0, output
    assert f"Connected to Exchange at {ews.url}" in output
    text = config.read_text()
    assert 'provider = "exchange"' in text and ews.url in text and 'auth-type = "basic"' in text
    assert ews.password not in text
    assert stored_secrets(config) == {"exchange.password": ews.password}
    assert ews.calls("GetFolder") == 1  # the check read the folders a session needs


def test_a_refused_password_is_one_line_and_nothing_is_stored(
    rgsync: Any, ews: RunningEws, config: Path
) -> None:
    code, output = connect(rgsync, ews, "wrong")
    assert code == 1
    assert "could not connect to Exchange" in output and "Traceback" not in output
    assert len(output.strip().splitlines()) == 1
    assert stored_secrets(config) == {}


def test_a_connect_without_an_address_says_what_to_add(rgsync: Any, ews: RunningEws) -> None:
    code, output = rgsync("connect", "exchange", "--ews-url", ews.url, password="x")
    assert code == 2 and "--address" in output


def test_doctor_checks_the_exchange_side(rgsync: Any, ews: RunningEws) -> None:
    assert connect(rgsync, ews, ews.password)[0] == 0
    _code, output = rgsync("--json", "doctor")
    checks = {c["check"]: c for c in json.loads(output)["checks"]}
    assert checks["Exchange sign-in"]["status"] == "ok"
    assert checks["Exchange folders"]["status"] == "ok"
    assert checks["Folder 'Salesforce Tasks'"]["status"] == "notice"
    ews.state.password = "rotated"
    _code, output = rgsync("--json", "doctor")
    checks = {c["check"]: c for c in json.loads(output)["checks"]}
    assert checks["Exchange sign-in"]["status"] == "error"
    assert "rgsync connect exchange" in checks["Exchange sign-in"]["fix"]
