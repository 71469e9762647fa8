"""`rgsync run --json` and `rgsync run --quiet`, as cron runs them, never load the console library
(SPEC §8 and §10: a quick, lean run). Real adapters against the emulators on 127.0.0.1, the CLI in
a fresh interpreter so nothing another test imported counts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync.demo.sandbox import Sandbox
from tests.system.cli_support import minimal_sandbox

PROBE = """
import json, sys
from rgsync.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps([code, "rich" in sys.modules]), file=sys.stderr)
"""


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with minimal_sandbox(tmp_path, monkeypatch) as running:
        yield running


def _run(sandbox: Sandbox, *flags: str) -> tuple[str, int, bool]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "--config", str(sandbox.settings_file), "run", "--force", *flags],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    code, loaded = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout, code, loaded


def test_spec_8_run_json_and_quiet_sync_without_loading_the_console_library(sandbox: Sandbox) -> None:
    out, code, loaded_rich = _run(sandbox, "--json")
    assert code == 0
    assert json.loads(out)["status"] == "completed"
    assert len(sandbox.salesforce.org.records("EmailMessage")) == 1  # the run really synced
    assert not loaded_rich

    out, code, loaded_rich = _run(sandbox, "--quiet")
    assert (out, code) == ("", 0)
    assert not loaded_rich


def test_a_run_for_a_person_still_prints_its_table(sandbox: Sandbox) -> None:
    """Without --json or --quiet the summary table is printed, through the console library."""
    out, code, loaded_rich = _run(sandbox)
    assert code == 0
    assert "Session" in out and "emails" in out
    assert loaded_rich
