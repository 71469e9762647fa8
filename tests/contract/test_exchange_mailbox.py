"""The shared mailbox contract run against the Exchange adapter, with the real exchangelib talking
SOAP to the EWS emulator (nothing is mocked)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.ews_harness import EwsHarness, open_harness
from tests.contract.mailbox_contract import MailboxContract


class TestExchangeMailbox(MailboxContract):
    @pytest.fixture
    def harness(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EwsHarness]:
        monkeypatch.setenv("RGSYNC_KEYRING", "file")
        yield from open_harness(tmp_path)
