"""Running `rgsync` in this process for CLI tests: exit code and what it printed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from rgsync.cli import main


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
