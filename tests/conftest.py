"""Fixtures every test folder may use; the folders are packages (`tests.system.cli_support` …),
so helpers are imported by their full name and nothing edits `sys.path`."""

from __future__ import annotations

import pytest


@pytest.fixture
def file_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets go to the profile's credentials file under the test's temporary directory, never
    to the OS keyring of the machine running the tests."""
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
