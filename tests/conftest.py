"""Fixtures every test folder may use; the folders are packages (`tests.system.cli_support` …),
so helpers are imported by their full name and nothing edits `sys.path`. The throw-away
PostgreSQL cluster and the state backends come from `tests.postgres_cluster`."""

from __future__ import annotations

import pytest

from tests.postgres_cluster import (
    backend_name,
    pg_cluster,
    pg_database,
    pg_location,
    state_where,
)

__all__ = ["backend_name", "file_keyring", "pg_cluster", "pg_database", "pg_location", "state_where"]


@pytest.fixture
def file_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets go to the profile's credentials file under the test's temporary directory, never
    to the OS keyring of the machine running the tests."""
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
