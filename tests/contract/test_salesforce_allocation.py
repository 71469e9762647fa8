"""The fleet reads the org's daily allocation from the `limits` resource (SPEC §11 org API budget)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.salesforce_harness import emulated_org, open_adapter


@pytest.fixture(autouse=True)
def _secrets_in_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")


def test_spec_11_read_allocation_reports_daily_api_requests_in_one_call(tmp_path: Path) -> None:
    with emulated_org(tmp_path) as running:
        crm = open_adapter(running, tmp_path)
        try:
            running.org.set_allocation(4_321, 10_000)
            before = crm.api_calls
            usage = crm.read_allocation()
            # The call itself is charged: 4,322 of 10,000 once it has been answered.
            assert usage is not None and (usage.used, usage.limit) == (4_322, 10_000)
            assert crm.api_calls - before == 1
            # The same answer carried Sforce-Limit-Info, so the session-wide usage agrees.
            assert crm.usage() == usage
        finally:
            crm.close()
