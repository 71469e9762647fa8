"""`rgsync run` never syncs on a state it cannot trust (SPEC §7.1, §8): a damaged state database
stops the run with one line and exit 1 before either side is touched, and `rgsync state check`
names the fix. Real Gmail and Salesforce adapters against the emulators on 127.0.0.1."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from rgsync.demo.sandbox import Sandbox
from tests.system.cli_support import invoke, minimal_sandbox


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with minimal_sandbox(tmp_path, monkeypatch) as running:
        yield running


def test_spec_8_run_refuses_a_damaged_state_before_touching_either_side(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(sandbox.settings_file)
    assert invoke(capsys, "--config", config, "run", "--force").code == 0
    saved = len(sandbox.salesforce.org.records("EmailMessage"))
    assert saved == 1
    connection = sqlite3.connect(sandbox.paths.state_db)
    connection.execute("UPDATE links SET fields = '{not json' WHERE stream = 'emails'")
    connection.commit()
    connection.close()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "bob@globex.com", "sam@example.com", "New one"
    message["Date"] = format_datetime(datetime.now(UTC) - timedelta(minutes=5))
    message["Message-ID"] = "<new-one@globex.com>"
    message.set_content("Another question")
    sandbox.mailbox.state.add_message(message.as_bytes(), labels=["INBOX"])

    result = invoke(capsys, "--config", config, "run", "--force")

    assert result.code == 1
    [line] = result.err.strip().splitlines()
    assert "is damaged" in line and "links table" in line and "rgsync state check" in line
    assert len(sandbox.salesforce.org.records("EmailMessage")) == saved  # nothing written
    check = invoke(capsys, "--config", config, "state", "check")
    assert check.code == 1 and "links table" in check.err and ".damaged" in check.err
