"""Two rgsync processes writing the same profile's credentials file at once lose no token
(SPEC §9, SPEC §7: never lose data): a `connect` racing a cron run's token refresh, played by real
processes that each store and refresh tokens as fast as they can."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import click
import pytest

from rgsync.credentials import CredentialStore
from rgsync.demo.sandbox import start_sandbox
from rgsync.providers.exchange import PASSWORD_SECRET
from rgsync.sandbox.scenario import load_scenario
from tests.paths import MINIMAL_SCENARIO as MINIMAL
from tests.system.cli_support import invoke

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from rgsync.credentials import CredentialStore

    path, who, rounds, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():  # start together, so the writes really overlap
        time.sleep(0.001)
    store = CredentialStore("default", path)
    for n in range(rounds):
        store.set(f"{who}.token.{n}", f"{who}-secret-{n}")  # a token this process adds
        store.set("salesforce.session", f"{who}-session-{n}")  # a token both refresh
        if n % 10 == 9:
            store.delete(f"{who}.token.{n - 5}")  # and one it signs out of again
    """
)


def _start(path: Path, who: str, rounds: int, go: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RGSYNC_")}
    env["RGSYNC_KEYRING"] = "file"
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), who, str(rounds), str(go)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_spec_9_two_processes_storing_and_refreshing_tokens_at_once_lose_none(tmp_path: Path) -> None:
    path = tmp_path / "state" / "credentials.json"
    go, rounds = tmp_path / "go", 80
    writers = {who: _start(path, who, rounds, go) for who in ("connect", "run")}
    time.sleep(0.5)  # both interpreters up and waiting
    go.touch()
    for who, process in writers.items():
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{who}: {err}"
    secrets = json.loads(path.read_text(encoding="utf-8"))["secrets"]
    for who in writers:
        deleted = {n - 5 for n in range(rounds) if n % 10 == 9}
        expected = {f"{who}.token.{n}": f"{who}-secret-{n}" for n in range(rounds) if n not in deleted}
        assert {k: v for k, v in secrets.items() if k.startswith(f"{who}.")} == expected
    # The shared token holds the last value one of the two wrote, never an older one.
    assert secrets["salesforce.session"] in {f"{who}-session-{rounds - 1}" for who in writers}
    assert oct(path.stat().st_mode & 0o777) == "0o600"


REFRESHER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from rgsync.credentials import CredentialStore

    path, stop, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    store = CredentialStore("default", path)
    n = 0
    while not stop.exists():  # a cron run refreshing its Salesforce session over and over
        store.set("cron.session", f"refreshed-{n}")
        store.set(f"refresh.{n}", "kept")
        n += 1
        if n == 5:
            ready.touch()
    print(n)
    """
)


def test_spec_9_connect_exchange_while_another_process_refreshes_tokens_keeps_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rgsync connect exchange` (the real CLI, against the EWS emulator) stores the password while
    another process keeps refreshing tokens in the same credentials file; then `run` signs in."""
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    monkeypatch.delenv("RGSYNC_STATE_DIR", raising=False)
    with start_sandbox(load_scenario(MINIMAL), tmp_path / "sbx", mailbox="exchange") as sandbox:
        credentials = sandbox.paths.credentials_file
        password = json.loads(credentials.read_text(encoding="utf-8"))["secrets"].pop(PASSWORD_SECRET)
        CredentialStore(sandbox.paths.profile, credentials).delete(
            PASSWORD_SECRET
        )  # as before the first connect
        stop, ready = tmp_path / "stop", tmp_path / "ready"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RGSYNC_")}
        env["RGSYNC_KEYRING"] = "file"
        refresher = subprocess.Popen(
            [sys.executable, "-c", REFRESHER, str(credentials), str(stop), str(ready)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not ready.exists() and refresher.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            monkeypatch.setattr(click.termui, "hidden_prompt_func", lambda _prompt: password)
            connected = invoke(capsys, "--config", str(sandbox.settings_file), "connect", "exchange")
            assert connected.code == 0, connected.err
        finally:
            stop.touch()
            out, err = refresher.communicate(timeout=60)
        assert refresher.returncode == 0, err
        refreshes = int(out.strip())
        secrets = json.loads(credentials.read_text(encoding="utf-8"))["secrets"]
        assert secrets[PASSWORD_SECRET] == password
        assert {k for k in secrets if k.startswith("refresh.")} == {f"refresh.{n}" for n in range(refreshes)}
        assert secrets["cron.session"] == f"refreshed-{refreshes - 1}"
        ran = invoke(capsys, "--config", str(sandbox.settings_file), "run", "--json")
        assert ran.code == 0 and ran.json["status"] == "completed", ran.err
