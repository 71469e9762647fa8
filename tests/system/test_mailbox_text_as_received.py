"""Mail text reaches Salesforce word for word on every mailbox kind (SPEC §7.8): right-to-left
overrides, zero-width characters and emoji are kept as received; only what Salesforce refuses
(XML-forbidden control characters, lone surrogates) is scrubbed. A malformed RFC 2047 header is
delivered by every emulator as real services deliver it, and the email is saved with the subject
as it stands in the message.

Each case runs the real mailbox adapter (Gmail API client, exchangelib, Graph over requests) and
simple-salesforce against the emulators on 127.0.0.1, through `run_session` as `rgsync run` does.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from rgsync.demo.sandbox import Sandbox, start_sandbox
from rgsync.sandbox.scenario import load_scenario
from rgsync.session import RunOptions
from rgsync.sync import run_session
from tests.paths import MINIMAL_SCENARIO as MINIMAL

KINDS = ("gmail", "exchange", "microsoft365")

# Right-to-left override … pop, zero-width space and joiner, an emoji with a skin tone, a flag.
TRICKY = "Offer \u202eTXT.EXE\u202c \u200bzero\u200dwidth\u200c \ufeffnbsp \u2066iso\u2069 👋🏽 🇩🇪 done"
MALFORMED = "=?utf-8?B?!!!notbase64?="


@pytest.fixture(params=KINDS)
def sandbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    monkeypatch.delenv("RGSYNC_STATE_DIR", raising=False)
    monkeypatch.delenv("RGSYNC_CONFIG", raising=False)
    with start_sandbox(load_scenario(MINIMAL), tmp_path / "sbx", mailbox=request.param) as running:
        yield running


def _raw(subject_header: bytes, message_id: str, body: str) -> bytes:
    sent = format_datetime(datetime.now(UTC) - timedelta(hours=2))
    return (
        b"From: Bob Baker <bob@globex.com>\r\n"
        b"To: Sam Sales <sam@example.com>\r\n"
        b"Subject: " + subject_header + b"\r\n"
        b"Date: " + sent.encode() + b"\r\n"
        b"Message-ID: <" + message_id.encode() + b">\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body.encode("utf-8") + b"\r\n"
    )


def _deliver(sandbox: Sandbox, raw: bytes) -> None:
    state = sandbox.mailbox.state
    received = datetime.now(UTC) - timedelta(hours=1)
    if sandbox.mailbox_kind == "gmail":
        state.add_message(raw, labels=["INBOX"], internal_date=received)
    else:
        state.add_message(raw, "inbox", received=received)


def _saved(sandbox: Sandbox, message_id: str) -> dict[str, Any]:
    rows = [
        r
        for r in sandbox.salesforce.org.records("EmailMessage")
        if str(r.get("MessageIdentifier") or "").strip("<>") == message_id
    ]
    assert len(rows) == 1, [r.get("Subject") for r in sandbox.salesforce.org.records("EmailMessage")]
    return dict(rows[0])


def test_spec_7_8_text_is_saved_word_for_word_and_a_malformed_header_as_it_stands(sandbox: Sandbox) -> None:
    encoded = "=?utf-8?B?" + base64.b64encode(TRICKY.encode()).decode() + "?="
    body = f"Line one {TRICKY}\nLine two \u2067isolate\u2069 and a bell\x07 removed"
    _deliver(sandbox, _raw(encoded.encode(), "tricky@globex.com", body))
    _deliver(sandbox, _raw(MALFORMED.encode(), "malformed@globex.com", "Body of the odd one"))

    result = run_session(sandbox.paths, RunOptions(force=True))

    assert result.status == "completed", result.message
    tricky = _saved(sandbox, "tricky@globex.com")
    assert tricky["Subject"] == TRICKY
    assert f"Line one {TRICKY}" in tricky["TextBody"] and "\u2067isolate\u2069" in tricky["TextBody"]
    assert "\x07" not in tricky["TextBody"]  # XML 1.0 forbids it; Salesforce refuses it
    assert _saved(sandbox, "malformed@globex.com")["Subject"] == MALFORMED
