"""API calls of a first session of 1,000 emails and of the sessions after it, on every mailbox kind.

Through the real adapters against the emulators (SPEC §10): the first session costs at most 0.015
Salesforce calls per saved email (lookups once a session, five collections per Composite call);
the session right after it recognises rgsync's own marks (label or category) without fetching a
single email and costs one Salesforce call; an idle session costs one Salesforce call too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

import pytest

from rgsync.demo.sandbox import Sandbox, start_sandbox
from rgsync.demo.scenarios import scenario_path
from rgsync.sandbox.scenario import load_scenario
from rgsync.session import RunOptions
from rgsync.sync import run_session

EMAILS = 1000
# Reading an email's content, per mailbox kind: none of these may be spent on rgsync's own echo.
FETCHES = {"gmail": ("gmail.messages.get",), "exchange": ("GetItem",), "microsoft365": ("graph.message.get",)}


@pytest.fixture(params=["gmail", "exchange", "microsoft365"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    running = start_sandbox(load_scenario(scenario_path("minimal")), tmp_path / "sbx", mailbox=request.param)
    try:
        address = running.scenario.user.address
        for n in range(EMAILS):
            message = EmailMessage(policy=SMTP)
            message["From"] = "Bob Baker <bob@globex.com>"
            message["To"] = address
            message["Subject"] = f"Order question {n}"
            message["Date"] = format_datetime(datetime.now(UTC) - timedelta(minutes=n % 600))
            message["Message-ID"] = f"<calls-{n}@globex.com>"
            message.set_content(f"Question number {n}.")
            folder = ["INBOX"] if request.param == "gmail" else "inbox"
            running.mailbox.state.add_message(message.as_bytes(), folder)  # type: ignore[attr-defined]
        yield running
    finally:
        running.stop()


def _session(sandbox: Sandbox) -> tuple[int, int, Counter[str], Counter[str]]:
    """Run one session: (emails saved, mailbox calls, Salesforce calls by route, mailbox calls by route)."""
    sf_before = Counter(sandbox.salesforce.server.calls)
    mailbox_before = Counter(sandbox.mailbox.server.calls)  # type: ignore[attr-defined]
    result = run_session(sandbox.paths, RunOptions(force=True))
    assert result.status == "completed", result.message
    saved = sum(s.created["salesforce"] for s in result.streams.values() if s.stream.value == "emails")
    return (
        saved,
        int(result.api_calls.get("mailbox", 0)),
        Counter(sandbox.salesforce.server.calls) - sf_before,
        Counter(sandbox.mailbox.server.calls) - mailbox_before,  # type: ignore[attr-defined]
    )


def test_spec_10_first_echo_and_idle_sessions_cost_few_calls_on_every_mailbox_kind(sandbox: Sandbox) -> None:
    """SPEC §10: ≤ 0.015 Salesforce calls per saved email; the echo session fetches no email."""
    saved, _mailbox, sf, _routes = _session(sandbox)
    assert saved >= EMAILS
    assert sum(sf.values()) <= 0.015 * saved, dict(sf)

    echo_saved, echo_mailbox, echo_sf, echo_routes = _session(sandbox)
    idle_saved, idle_mailbox, idle_sf, _idle_routes = _session(sandbox)

    assert echo_saved == idle_saved == 0
    assert sum(echo_sf.values()) == 1 and sum(idle_sf.values()) == 1, (dict(echo_sf), dict(idle_sf))
    # At most the one calendar read Exchange makes in every session; never the saved emails.
    assert sum(echo_routes[r] for r in FETCHES[sandbox.mailbox_kind]) <= 1, dict(echo_routes)
    # The change journal still lists the marks (500 to a page); nothing else is read for them.
    assert echo_mailbox <= idle_mailbox + 3, dict(echo_routes)
