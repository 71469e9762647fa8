"""Running `rgsync` in this process for CLI tests: exit code and what it printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rgsync.cli import main
from rgsync.demo.sandbox import Sandbox, start_sandbox
from rgsync.sandbox.scenario import load_scenario
from tests.paths import MINIMAL_SCENARIO


@dataclass
class CliResult:
    """Exit code, stdout and stderr of one `rgsync` command."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def invoke(capsys: pytest.CaptureFixture[str], *argv: str) -> CliResult:
    """Run `rgsync ARGV` as the console script would (SystemExit → exit code), capturing its output."""
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exited:
        code = int(exited.code or 0)
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


@contextmanager
def minimal_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The minimal scenario's emulators on 127.0.0.1 and a profile for them, with the file keyring
    and none of the user's RGSYNC_* locations, so the CLI finds only the sandbox's files."""
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    for name in ("RGSYNC_CONFIG", "RGSYNC_PROFILE", "RGSYNC_STATE_DIR", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)
    with start_sandbox(load_scenario(MINIMAL_SCENARIO), tmp_path / "sbx") as running:
        yield running
