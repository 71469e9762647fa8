"""The shared mailbox contract, run by the Microsoft 365 adapter against the Graph emulator with
real msal (device-code sign-in, silent refresh) and real requests: no mocking of either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.graph_harness import GraphHarness, running_graph
from tests.contract.mailbox_contract import MailboxContract

pytestmark = pytest.mark.usefixtures("file_keyring")


class TestMicrosoft365Mailbox(MailboxContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[GraphHarness]:
        for graph in running_graph(tmp_path):
            harness = GraphHarness(graph, tmp_path)
            yield harness
            harness.mailbox.close()
