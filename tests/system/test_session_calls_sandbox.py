"""API calls of a first session of 1,000 emails and of the sessions after it, on every mailbox kind.

Through the real adapters against the emulators (SPEC §10): the first session costs at most 0.015
Salesforce calls per saved email (lookups once a session, five collections per Composite call);
the session right after it recognises rgsync's own marks (label or category) without fetching a
single email and costs one Salesforce call and at most five mailbox calls, however many pages of
marks the first session left in the change journal; an idle session costs one Salesforce call too.
A change someone else makes between rgsync's marks and the move of the cursor past them is still
read by the next session (SPEC §7).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from rgsync.demo.sandbox import Sandbox, start_sandbox
from rgsync.demo.scenarios import scenario_path
from rgsync.model import LABEL_SAVE, LABEL_SAVE_THREAD
from rgsync.providers.exchange.access import MailboxAccess
from rgsync.providers.exchange.mailbox import ExchangeMailbox
from rgsync.providers.google import gmail
from rgsync.providers.google.mailbox import GoogleMailbox
from rgsync.providers.microsoft365.mailbox import Microsoft365Mailbox
from rgsync.sandbox.scenario import load_scenario
from rgsync.session import RunOptions
from rgsync.sync import run_session

EMAILS = 1000
# Change-journal pages of 100 instead of 500: the marks of 1,000 emails then fill ten pages, as
# those of 5,000 emails would at full size, without the test taking five times longer.
SMALL_PAGE = 100
# Reading an email's content, per mailbox kind: none of these may be spent on rgsync's own echo.
FETCHES = {"gmail": ("gmail.messages.get",), "exchange": ("GetItem",), "microsoft365": ("graph.message.get",)}


@pytest.fixture(params=["gmail", "exchange", "microsoft365"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    monkeypatch.setattr(gmail, "LIST_PAGE", SMALL_PAGE)
    monkeypatch.setitem(Microsoft365Mailbox.__init__.__kwdefaults__, "page_size", SMALL_PAGE)
    monkeypatch.setitem(MailboxAccess.__init__.__kwdefaults__, "sync_page", SMALL_PAGE)
    running = start_sandbox(load_scenario(scenario_path("minimal")), tmp_path / "sbx", mailbox=request.param)
    try:
        yield running
    finally:
        running.stop()


def _deliver(sandbox: Sandbox, count: int, first: int = 0) -> list[str]:
    """Deliver `count` emails from a known Contact into the Inbox; their mailbox ids."""
    address = sandbox.scenario.user.address
    ids = []
    for n in range(first, first + count):
        message = EmailMessage(policy=SMTP)
        message["From"] = "Bob Baker <bob@globex.com>"
        message["To"] = address
        message["Subject"] = f"Order question {n}"
        message["Date"] = format_datetime(datetime.now(UTC) - timedelta(minutes=n % 600))
        message["Message-ID"] = f"<calls-{n}@globex.com>"
        message.set_content(f"Question number {n}.")
        folder = ["INBOX"] if sandbox.mailbox_kind == "gmail" else "inbox"
        ids.append(str(sandbox.mailbox.state.add_message(message.as_bytes(), folder)))  # type: ignore[attr-defined]
    return ids


def _session(sandbox: Sandbox) -> tuple[int, int, Counter[str], Counter[str], int]:
    """Run one session: (emails saved, mailbox calls, Salesforce calls by route, mailbox calls by
    route, emails read)."""
    sf_before = Counter(sandbox.salesforce.server.calls)
    mailbox_before = Counter(sandbox.mailbox.server.calls)  # type: ignore[attr-defined]
    result = run_session(sandbox.paths, RunOptions(force=True))
    assert result.status == "completed", result.message
    emails = [s for s in result.streams.values() if s.stream.value == "emails"]
    return (
        result.emails_saved,
        int(result.api_calls.get("mailbox", 0)),
        Counter(sandbox.salesforce.server.calls) - sf_before,
        Counter(sandbox.mailbox.server.calls) - mailbox_before,  # type: ignore[attr-defined]
        sum(s.changes_read["mailbox"] for s in emails),
    )


def test_spec_10_first_echo_and_idle_sessions_cost_few_calls_on_every_mailbox_kind(sandbox: Sandbox) -> None:
    """SPEC §10: ≤ 0.015 Salesforce calls per saved email; the echo session reads no email and
    costs ≤ 1 Salesforce call and ≤ 5 mailbox calls although the marks filled ten journal pages."""
    _deliver(sandbox, EMAILS)
    saved, _mailbox, sf, _routes, _read = _session(sandbox)
    assert saved >= EMAILS
    assert sum(sf.values()) <= 0.015 * saved, dict(sf)

    echo_saved, echo_mailbox, echo_sf, echo_routes, echo_read = _session(sandbox)
    idle_saved, idle_mailbox, idle_sf, _idle_routes, _idle_read = _session(sandbox)

    assert echo_saved == idle_saved == echo_read == 0
    assert sum(echo_sf.values()) == 1 and sum(idle_sf.values()) == 1, (dict(echo_sf), dict(idle_sf))
    # At most the one calendar read Exchange makes in every session; never the saved emails.
    assert sum(echo_routes[r] for r in FETCHES[sandbox.mailbox_kind]) <= 1, dict(echo_routes)
    # The cursor is past the marks: no page of them is read again (the one call more than idle
    # is Exchange's calendar read above).
    assert echo_mailbox <= 5, dict(echo_routes)
    assert echo_mailbox <= idle_mailbox + 1, dict(echo_routes)


# The user's own changes right after rgsync's marks, as each kind of mailbox records them.
def _user_tracks_thread(sandbox: Sandbox, mailbox_id: str) -> None:
    state = sandbox.mailbox.state  # type: ignore[attr-defined]
    if sandbox.mailbox_kind == "gmail":
        state.gmail.modify_labels(mailbox_id, add=[LABEL_SAVE_THREAD])
    else:
        state.set_categories(mailbox_id, [LABEL_SAVE, LABEL_SAVE_THREAD])


def test_spec_7_a_change_between_our_marks_and_the_cursor_move_is_still_read(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §7/§3.6: the user gives a just-saved email the thread label (its version moves past
    the one our mark produced) and a new email arrives, both after rgsync marked its saves and
    before it moved the cursor past them: the next session reads both, saves the new email and
    tracks the thread; the session after that is idle."""
    ids = _deliver(sandbox, 3 * SMALL_PAGE)
    adapter = {"gmail": GoogleMailbox, "exchange": ExchangeMailbox, "microsoft365": Microsoft365Mailbox}
    cls = adapter[sandbox.mailbox_kind]
    original = cls.past_own_marks

    def user_acts_first(self: Any, cursor: str, options: Any) -> str | None:
        _user_tracks_thread(sandbox, ids[SMALL_PAGE + 7])
        _deliver(sandbox, 1, first=10_000)
        return original(self, cursor, options)

    monkeypatch.setattr(cls, "past_own_marks", user_acts_first)
    assert _session(sandbox)[0] >= len(ids)
    monkeypatch.setattr(cls, "past_own_marks", original)

    saved, _mailbox, _sf, _routes, read = _session(sandbox)
    assert (saved, read) == (1, 2)
    assert _session(sandbox)[4] == 0
