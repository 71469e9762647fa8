"""Report how many hostile inputs the suite tried, per target (see fuzz_support.TRIED)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RGSYNC_CONFIG", "RGSYNC_PROFILE", "RGSYNC_STATE_DIR", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RGSYNC_KEYRING", "file")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.fuzz.fuzz_support import TRIED

    if TRIED:
        total = sum(TRIED.values())
        parts = ", ".join(f"{name} {count}" for name, count in sorted(TRIED.items()))
        terminalreporter.write_line(f"hostile inputs tried: {total} ({parts}) [pid {os.getpid()}]")
