"""HTML emails reach Salesforce as readable text on every mailbox kind (SPEC §7.8): what a reader
saw, with links as `text <target>`, table cells apart and plain spaces, and nothing a reader never
saw — comments, Outlook conditional blocks, attribute values, scripts and styles. When the email
carries the sender's own text/plain part and the service hands it over, that part is saved.

Each case delivers the real-world-shaped emails of tests/data/html/ to the emulator and runs the
real mailbox adapter (Gmail API client, exchangelib, Graph over requests) and simple-salesforce on
127.0.0.1 through `run_session`, as `rgsync run` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from rgsync.demo.sandbox import Sandbox, start_sandbox
from rgsync.sandbox.scenario import load_scenario
from rgsync.session import RunOptions
from rgsync.sync import run_session

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "examples" / "scenarios" / "minimal.toml"
SAMPLES = ROOT / "tests" / "data" / "html"
NAMES = sorted(p.stem for p in SAMPLES.glob("*.html"))

# Text the samples hide from a reader (comments, conditional blocks, attributes, code, styles).
NEVER_SHOWN = (
    "Outlook-only spacer",
    "shapedefaults",
    "Font Definitions",
    "MsoNormal",
    "secret-token",
    "injected",
    "100 was rejected",
    "Outlook > only",
    "step 2",
    "target",
    'deal"',
    "max-width",
    "preheader",
)


@pytest.fixture(params=["gmail", "exchange", "microsoft365"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    monkeypatch.delenv("RGSYNC_STATE_DIR", raising=False)
    monkeypatch.delenv("RGSYNC_CONFIG", raising=False)
    with start_sandbox(load_scenario(MINIMAL), tmp_path / "sbx", mailbox=request.param) as running:
        yield running


def _headers(message_id: str, content_type: str) -> bytes:
    sent = format_datetime(datetime.now(UTC) - timedelta(hours=2))
    return (
        "From: Bob Baker <bob@globex.com>\r\n"
        "To: Sam Sales <sam@example.com>\r\n"
        f"Subject: {message_id}\r\n"
        f"Date: {sent}\r\n"
        f"Message-ID: <{message_id}>\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n"
    ).encode()


def _html_only(message_id: str, markup: str) -> bytes:
    return (
        _headers(message_id, "text/html; charset=utf-8")
        + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + markup.encode("utf-8")
    )


def _alternative(message_id: str, plain: str, markup: str) -> bytes:
    return (
        _headers(message_id, 'multipart/alternative; boundary="alt"')
        + b"\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + plain.encode()
        + b"\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + markup.encode()
        + b"\r\n--alt--\r\n"
    )


def _deliver(sandbox: Sandbox, raw: bytes) -> None:
    state = sandbox.mailbox.state
    received = datetime.now(UTC) - timedelta(hours=1)
    if sandbox.mailbox_kind == "gmail":
        state.add_message(raw, labels=["INBOX"], internal_date=received)
    else:
        state.add_message(raw, "inbox", received=received)


def _saved_text(sandbox: Sandbox, message_id: str) -> str:
    rows = [
        r
        for r in sandbox.salesforce.org.records("EmailMessage")
        if str(r.get("MessageIdentifier") or "").strip("<>") == message_id
    ]
    assert len(rows) == 1, [r.get("Subject") for r in sandbox.salesforce.org.records("EmailMessage")]
    return str(rows[0].get("TextBody") or "")


def _expected(name: str) -> str:
    return (SAMPLES / f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")


def test_spec_7_8_html_emails_are_saved_as_the_text_a_reader_saw(sandbox: Sandbox) -> None:
    for name in NAMES:
        _deliver(sandbox, _html_only(f"{name}@globex.com", (SAMPLES / f"{name}.html").read_text("utf-8")))

    result = run_session(sandbox.paths, RunOptions(force=True))

    assert result.status == "completed", result.message
    saved = {name: _saved_text(sandbox, f"{name}@globex.com") for name in NAMES}
    for name, text in saved.items():
        assert not [hidden for hidden in NEVER_SHOWN if hidden in text], (name, text)
        assert "\xa0" not in text and "<o:p>" not in text and "&nbsp;" not in text, (name, text)
    order = saved["marketing-table"]
    assert "Widget        2   $5.00" in order and "Gadget Pro    1  $42.00" in order, order
    assert "https://shop.example.com/orders/4821>" in order and "Track your order" in order
    assert "Next step: kickoff on Monday." in saved["comment-with-gt"]
    assert saved["unclosed-script"] == "Please confirm the meeting for Thursday.\n\nAnn"
    if sandbox.mailbox_kind == "exchange":
        # Exchange sends its own rendering of the HTML (TextBody), links written `text<target>`.
        assert "pricing page<https://globex.example/pricing?plan=team&seats=40>" in saved["outlook-mso"]
    else:
        # Gmail (an HTML-only email has no text part) and Graph (one HTML body) go through rgsync's
        # own rendering, the same on both.
        assert saved == {name: _expected(name) for name in NAMES}


def test_spec_7_8_the_senders_text_part_is_kept_where_the_service_gives_it(sandbox: Sandbox) -> None:
    plain = "Hi Sam,\r\n\r\nthe sender's own plain words\r\n"
    markup = "<div>Hi&nbsp;Sam,</div><!-- draft > 2 --><div><b>rendered</b> words</div>"
    _deliver(sandbox, _alternative("alt@globex.com", plain, markup))

    result = run_session(sandbox.paths, RunOptions(force=True))

    assert result.status == "completed", result.message
    text = _saved_text(sandbox, "alt@globex.com")
    if sandbox.mailbox_kind == "microsoft365":
        # Graph keeps one body per message, the HTML; the text part would cost a MIME download.
        assert text == "Hi Sam,\nrendered words"
    else:
        assert text.strip() == "Hi Sam,\n\nthe sender's own plain words"
