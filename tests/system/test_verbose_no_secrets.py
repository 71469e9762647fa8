"""`-v` output is safe to paste into a bug report (SPEC §9: secrets never in logs): a whole sandbox
session through the real `rgsync` console script, on every mailbox kind, prints none of the
secrets in the profile's credentials store, no Authorization header and no mail body. The HTTP
clients' own debug output appears only with `--debug-http`, after a warning, and is redacted too."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync.demo.sandbox import Sandbox, start_sandbox
from rgsync.sandbox.scenario import load_scenario
from tests.paths import MINIMAL_SCENARIO as MINIMAL

BODY = "Shall we meet next week?"  # the body of minimal.toml's email
HTTP_LOGGER_NAMES = ("exchangelib", "urllib3", "googleapiclient", "msal", "simple_salesforce", "requests")


@pytest.fixture(params=["gmail", "microsoft365", "exchange"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    monkeypatch.delenv("RGSYNC_STATE_DIR", raising=False)
    with start_sandbox(load_scenario(MINIMAL), tmp_path / "sbx", mailbox=request.param) as running:
        yield running


def rgsync(sandbox: Sandbox, *argv: str) -> subprocess.CompletedProcess[str]:
    """The console script in a process of its own, as a user runs it, against the sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RGSYNC_")}
    env.update(RGSYNC_KEYRING="file", HOME=str(sandbox.settings_file.parent), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "rgsync", "--config", str(sandbox.settings_file), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def stored_secrets(sandbox: Sandbox) -> list[str]:
    """Every secret of the profile's credentials file, and the Basic-auth header form of each."""
    document = json.loads(sandbox.paths.credentials_file.read_text(encoding="utf-8"))
    values = [v for v in document["secrets"].values() if not v.startswith("https://")]
    assert values, "the sandbox stored no secrets to look for"
    user = sandbox.scenario.user.address
    encoded = [
        base64.b64encode(f"{u}:{v}".encode()).decode() for v in values for u in (user, user.split("@")[0])
    ]
    return values + encoded


def test_spec_9_verbose_run_prints_no_secret_no_header_and_no_mail_body(sandbox: Sandbox) -> None:
    done = rgsync(sandbox, "-v", "run")
    assert done.returncode == 0, done.stderr
    leaked = [s for s in stored_secrets(sandbox) if s in done.stderr or s in done.stdout]
    assert leaked == []
    assert "Authorization: B" not in done.stderr and "'Authorization': 'B" not in done.stderr
    assert BODY not in done.stderr
    # The client libraries stay quiet under -v: their DEBUG lines are what carried the secrets.
    assert not [line for line in done.stderr.splitlines() if any(f" {n}" in line for n in HTTP_LOGGER_NAMES)]


# Exchange only: exchangelib is the client that logs whole requests (headers and SOAP bodies).
@pytest.mark.parametrize("sandbox", ["exchange"], indirect=True)
def test_spec_9_debug_http_warns_and_logs_the_clients_yet_blanks_the_stored_secrets(sandbox: Sandbox) -> None:
    done = rgsync(sandbox, "--debug-http", "run")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("rgsync: warning: --debug-http")
    client_lines = [
        line for line in done.stderr.splitlines() if any(f" {n}" in line for n in HTTP_LOGGER_NAMES)
    ]
    assert client_lines  # the option does what it says
    assert [s for s in stored_secrets(sandbox) if s in done.stderr] == []
