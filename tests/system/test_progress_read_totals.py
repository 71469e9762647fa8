"""The read totals of the progress display (SPEC §2 streams): while a stream reads, its line shows
the records read out of what the services say the listing holds, when they say so — the ids Gmail
listed, Salesforce's `totalSize`, the contact group's `memberCount`, the items of Exchange's FindItem
calendar view — and the count alone where the service gives none (Google Calendar's events.list,
Exchange's SyncFolderItems). Real adapters, emulators over real HTTP; the display is printed through
rich's recording console at 80 columns, as a terminal of that width shows it."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from rich.console import Console

from rgsync.cli.progress import SessionProgress
from rgsync.model import ContactItem, Page, Side, Stream
from rgsync.session import RunOptions
from rgsync.session.outcome import StreamSummary
from rgsync.sync import run_session
from tests.system.rule_cases_sandbox import Box, open_box, scenario_text

ITEMS = """
[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "Pricing for the renewal"
when = "-1d 10:00"
body = "Here are the numbers."

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "Renewal call"
when = "-1d 11:00"
body = "Tuesday works."

[[mailbox.emails]]
from = "Dave Dunn <dave@globex.com>"
to = ["ann@acme.com"]
subject = "Contract draft"
when = "-2d 09:00"
body = "Draft attached."

[[mailbox.calendar]]
subject = "Globex renewal review"
start = "+1d 10:00"
duration = "1h"
attendees = ["bob@globex.com"]

[[mailbox.calendar]]
subject = "Initech demo"
start = "+2d 14:00"
duration = "30m"
attendees = ["carol@initech.com"]
"""
READ = re.compile(r"^\S+ +(\w+) +read (\d+)(?:/(\d+))? +planned")


def _console() -> Console:
    return Console(record=True, width=80, file=io.StringIO(), force_terminal=True, color_system=None)


class Recorded(SessionProgress):
    """The display printed when each stream has read and planned (what a person sees while its
    records are written) and when it ends."""

    def __init__(self) -> None:
        super().__init__(_console())
        self.reading: dict[str, tuple[int, int | None]] = {}
        self.done: dict[str, tuple[int, int | None]] = {}
        self.lines: list[str] = []
        self.summaries: dict[str, StreamSummary] = {}

    def stream_started(self, stream: Stream, summary: StreamSummary) -> None:
        super().stream_started(stream, summary)
        self.summaries[stream.value] = summary

    def _shown(self) -> dict[str, tuple[int, int | None]]:
        self.console.print(self)
        self.lines += self.console.export_text(clear=True).splitlines()
        found = {}
        for line in self.lines[-len(self._lines) :]:
            if m := READ.match(line):
                found[m.group(1)] = (int(m.group(2)), int(m.group(3)) if m.group(3) else None)
        return found

    def planned(self, stream: Stream, actions: int) -> None:
        super().planned(stream, actions)
        self.reading.setdefault(stream.value, self._shown()[stream.value])

    def stream_finished(self, stream: Stream, summary: StreamSummary) -> None:
        super().stream_finished(stream, summary)
        self.done[stream.value] = self._shown()[stream.value]


def _session(box: Box) -> Recorded:
    progress = Recorded()
    result = run_session(box.sandbox.paths, RunOptions(force=True), progress)
    assert result.status == "completed", result.message
    return progress


@pytest.fixture(scope="module")
def gmail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    text = scenario_text("read-totals", settings={"general.emails": {"save-as": "task"}}, items=ITEMS)
    with open_box(tmp_path_factory.mktemp("totals") / "sandbox", text) as started:
        yield started


def test_spec_2_gmail_and_salesforce_counts_shown_as_read_totals_at_80_columns(gmail: Box) -> None:
    shown = _session(gmail)
    # Gmail lists every id before fetching: 3 of 3. Contacts: Ann's 3 Salesforce Contacts
    # (totalSize 3) and the new, empty contact group (memberCount 0).
    assert shown.reading["emails"] == (3, 3)
    assert shown.reading["contacts"] == (3, 3)
    # Google Calendar's events.list gives no count: the two meetings read, no total.
    assert shown.reading["events"] == (2, None)
    # Once a stream is done, only what was read stays.
    assert shown.done["emails"] == (3, None) and shown.done["contacts"] == (3, None)
    assert shown.lines and all(len(line) <= 80 for line in shown.lines)
    # A later full listing of the contact group (its sync token forgotten) counts the group's
    # members as contactGroups.list reports them (memberCount), not the whole address book.
    with gmail.state() as store:
        store.set_cursor(Stream.CONTACTS, Side.MAILBOX, None)
    again = _session(gmail)
    assert again.summaries["contacts"].expected["mailbox"] == 3
    assert again.reading["contacts"][0] >= 3 and again.reading["contacts"][1] is not None


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    text = scenario_text("read-totals", settings={"general.emails": {"save-as": "task"}}, items=ITEMS)
    with open_box(tmp_path_factory.mktemp("totals-ews") / "sandbox", text, mailbox="exchange") as started:
        yield started


def test_spec_2_exchange_calendar_view_gives_a_total_sync_folder_items_none(exchange: Box) -> None:
    shown = _session(exchange)
    # FindItem's calendar view lists the two meetings; Salesforce holds no Events of Ann's yet.
    assert shown.reading["events"] == (2, 2)
    # SyncFolderItems reports no count: emails and contacts show what was read alone.
    assert shown.reading["emails"] == (3, None)
    assert shown.reading["contacts"][1] is None


def test_spec_2_read_total_grows_page_by_page_and_gives_way_when_overrun() -> None:
    """Mid-listing the line reads N of T; a side with no count hides the total; more than
    announced (a listing retried) shows the count alone."""
    progress = SessionProgress(_console())
    summary = StreamSummary(Stream.CONTACTS)
    progress.stream_started(Stream.CONTACTS, summary)

    def line() -> str:
        progress.console.print(progress)
        return progress.console.export_text(clear=True)

    two = tuple(ContactItem(id=f"c{n}") for n in range(2))
    summary.page_read(Side.MAILBOX, Page(items=two, last=False, total=1450))
    assert "read 2/1450 " in line()
    summary.page_read(Side.MAILBOX, Page(items=two, total=1450))
    summary.page_read(Side.SALESFORCE, Page(items=two, total=50))
    assert "read 6/1500 " in line()
    uncounted = StreamSummary(Stream.EVENTS)
    progress.stream_started(Stream.EVENTS, uncounted)
    uncounted.page_read(Side.MAILBOX, Page(items=two))  # a listing without a count
    uncounted.page_read(Side.SALESFORCE, Page(items=two, total=2))
    assert re.search(r"events +read 4 +planned", line())
    overrun = StreamSummary(Stream.TASKS)
    progress.stream_started(Stream.TASKS, overrun)
    overrun.page_read(Side.MAILBOX, Page(items=two * 2, total=3))
    assert re.search(r"tasks +read 4 +planned", line())


def test_spec_2_large_counts_keep_every_number_within_80_columns() -> None:
    """A first sync of tens of thousands: the bar narrows, no number is cut."""
    progress = SessionProgress(_console())
    summary = StreamSummary(Stream.CONTACTS)
    progress.stream_started(Stream.CONTACTS, summary)
    summary.page_read(
        Side.MAILBOX, Page(items=tuple(ContactItem(id=f"c{n}") for n in range(12345)), total=45678)
    )
    progress.planned(Stream.CONTACTS, 12345)
    summary.created[Side.SALESFORCE.value] = 12000
    progress.console.print(progress)
    [line] = progress.console.export_text().splitlines()
    assert len(line) <= 80
    assert "contacts read 12345/45678 planned 12345 written 12000/12345 " in " ".join(line.split()) + " "
    assert "━" in line and re.search(r" \d+(\.\d)?k?/s \d+:\d\d$", line)
