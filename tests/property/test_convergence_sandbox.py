"""The convergence state machine over the sandbox: random edits on both sides and writes whose
answer is lost, with rgsync's real adapters talking HTTP to the emulators (SPEC §7.1, §7).

`test_convergence.py` explores many histories fast over the in-memory providers; this variant
explores fewer, but through the real Gmail, Calendar and Salesforce adapters and client
libraries, so a mistake in how an adapter reads a cursor, pages a listing or adopts a write it
never saw answered shows up too. The normal run tries a few histories; the `slow` marker runs
many more (`python -m pytest -m slow tests/property`).

After every session: no email is saved twice, no Event is down-synced twice, no Salesforce record
is linked twice. After a clean session: every email the rules save is saved exactly once (nothing
lost), linked Events and calendar items agree on subject and times, and a session right after has
nothing left to do.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rgsync.model import Side, Stream
from rgsync.providers.google.calendar import TAG
from rgsync.sandbox.http import Fault
from tests.system.rule_cases_sandbox import Box, open_box, scenario_text

# Bob (Contact), Carol (Contact of a colleague's Account) and Erin (Lead) are saved (RULE-CASES
# E1–E3); Dave writes from free mail and Frank is a colleague, so theirs stay out.
SAVED_SENDERS = (
    "Bob Baker <bob@globex.com>",
    "Carol Cole <carol@initech.com>",
    "Erin Ellis <erin@hooli.com>",
)
OTHER_SENDERS = ("Dave Dunn <dave@gmail.com>", "Frank Fox <frank@acme.com>")
SUBJECTS = ("Alpha", "Beta", "Gamma")
DAYS = st.integers(min_value=1, max_value=20)
# Writes whose answer the service loses: the write is applied, the adapter never hears so.
LOST_ANSWERS = {
    "salesforce": r"^(POST|PATCH|DELETE) /services/data/[^/]+/(composite|sobjects)",
    "mailbox": r"^(POST|PATCH|PUT|DELETE) /(calendar|gmail|tasks)/",
}


class SandboxConvergence(RuleBasedStateMachine):
    """One sandbox (Google and Salesforce emulators) per history; sessions as `rgsync run` runs them."""

    def __init__(self) -> None:
        super().__init__()
        self._stack = contextlib.ExitStack()
        directory = Path(self._stack.enter_context(tempfile.TemporaryDirectory()))
        text = scenario_text("convergence")
        self.box: Box = self._stack.enter_context(open_box(directory / "sandbox", text))
        self.expected: set[str] = set()
        self.count = 0
        self.clean = False

    def teardown(self) -> None:
        self._stack.close()

    def _unique(self, word: str) -> str:
        self.count += 1
        return f"{word} {self.count}"

    # -- the user, in the mailbox (Gmail and Calendar REST APIs) ---------------------------------
    @rule(sender=st.sampled_from(SAVED_SENDERS + OTHER_SENDERS), subject=st.sampled_from(SUBJECTS))
    def receive_email(self, sender: str, subject: str) -> None:
        title = self._unique(subject)
        self.box.deliver(title, sender)
        if sender in SAVED_SENDERS:
            self.expected.add(title)
        self.clean = False

    @rule(subject=st.sampled_from(SUBJECTS), day=DAYS)
    def organise_meeting(self, subject: str, day: int) -> None:
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=day)
        self.box.google_call(
            "POST",
            "/calendar/v3/calendars/primary/events",
            {
                "summary": self._unique(f"{subject} meeting"),
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
                "attendees": [{"email": "bob@globex.com", "responseStatus": "accepted"}],
            },
        )
        self.clean = False

    def _down_synced(self) -> list[str]:
        with self.box.state() as state:
            links = state.links(Stream.EVENTS)
        live = self._calendar()
        return sorted(
            link.mailbox_id
            for link in links.values()
            if link.origin is Side.SALESFORCE and link.mailbox_id in live
        )

    @precondition(lambda self: bool(self._down_synced()))
    @rule(data=st.data(), subject=st.sampled_from(SUBJECTS))
    def rename_in_mailbox(self, data: st.DataObject, subject: str) -> None:
        event_id = data.draw(st.sampled_from(self._down_synced()))
        self.box.google_call(
            "PATCH", f"/calendar/v3/calendars/primary/events/{event_id}", {"summary": self._unique(subject)}
        )
        self.clean = False

    @precondition(lambda self: bool(self._down_synced()))
    @rule(data=st.data())
    def delete_in_mailbox(self, data: st.DataObject) -> None:
        event_id = data.draw(st.sampled_from(self._down_synced()))
        self.box.google_call("DELETE", f"/calendar/v3/calendars/primary/events/{event_id}")
        self.clean = False

    # -- colleagues, in Salesforce (simple-salesforce) --------------------------------------------
    def _events(self) -> list[str]:
        return sorted(r["Id"] for r in self.box.org.records("Event") if not r.get("IsDeleted"))

    @rule(subject=st.sampled_from(SUBJECTS), day=DAYS)
    def create_event_in_salesforce(self, subject: str, day: int) -> None:
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=day, hours=3)
        self.box.sf().Event.create(
            {
                "Subject": self._unique(f"{subject} (sf)"),
                "StartDateTime": start.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "EndDateTime": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "OwnerId": self.box.user_id,
                "WhoId": self.box.keys["bob"],
            }
        )
        self.clean = False

    @precondition(lambda self: bool(self._events()))
    @rule(data=st.data(), subject=st.sampled_from(SUBJECTS))
    def rename_in_salesforce(self, data: st.DataObject, subject: str) -> None:
        event_id = data.draw(st.sampled_from(self._events()))
        self.box.sf().Event.update(event_id, {"Subject": self._unique(f"{subject} (renamed in sf)")})
        self.clean = False

    @precondition(lambda self: bool(self._events()))
    @rule(data=st.data())
    def delete_in_salesforce(self, data: st.DataObject) -> None:
        event_id = data.draw(st.sampled_from(self._events()))
        self.box.sf().Event.delete(event_id)
        self.clean = False

    # -- sessions ---------------------------------------------------------------------------------
    @rule(side=st.sampled_from(sorted(LOST_ANSWERS)), nth=st.integers(min_value=1, max_value=3))
    def session_with_a_lost_answer(self, side: str, nth: int) -> None:
        """The nth write of one side is applied but its answer never arrives; the session may
        retry, fail or finish, and must leave nothing the next sessions would duplicate."""
        server = (
            self.box.sandbox.salesforce.server if side == "salesforce" else self.box.sandbox.mailbox.server
        )
        server.faults.add(Fault(match=LOST_ANSWERS[side], lose_reply=True, nth=nth))
        try:
            self.box.run()
        finally:
            server.faults.clear()
        self.clean = False

    @rule()
    def clean_session(self) -> None:
        result = self.box.run()
        assert result.status == "completed", result.message
        again = self.box.run()
        assert again.changes == 0, {s.value: v.to_json() for s, v in again.streams.items()}
        self.clean = True

    # -- what must always hold --------------------------------------------------------------------
    def _calendar(self) -> dict[str, dict[str, Any]]:
        state = self.box.google
        with state.lock:
            return {
                event_id: dict(stored.resource)
                for event_id, stored in state.calendar.events.items()
                if stored.resource.get("status") != "cancelled"
            }

    def _saved_subjects(self) -> Counter[str]:
        org = self.box.org
        return Counter(str(r.get("Subject")) for r in org.records("EmailMessage") if not r.get("IsDeleted"))

    @invariant()
    def nothing_duplicated(self) -> None:
        saved = self._saved_subjects()
        assert all(n == 1 for n in saved.values()), saved
        tags = Counter(
            str(tag)
            for e in self._calendar().values()
            if (tag := (e.get("extendedProperties") or {}).get("private", {}).get(TAG))
        )
        assert all(n == 1 for n in tags.values()), tags
        with self.box.state() as state:
            links = state.links(Stream.EVENTS)
        linked = Counter(link.salesforce_id for link in links.values())
        assert all(n == 1 for n in linked.values()), linked

    @invariant()
    def converged_after_a_clean_session(self) -> None:
        if not self.clean:
            return
        assert set(self._saved_subjects()) == self.expected
        with self.box.state() as state:
            links = state.links(Stream.EVENTS)
        calendar = self._calendar()
        events = {r["Id"]: r for r in self.box.org.records("Event") if not r.get("IsDeleted")}
        for link in links.values():
            item = calendar.get(link.mailbox_id)
            event = events.get(link.salesforce_id)
            assert item is not None and event is not None, link
            assert item.get("summary") == event.get("Subject"), (item, event)
            start = datetime.fromisoformat(str(item["start"]["dateTime"]).replace("Z", "+00:00"))
            assert start == event["StartDateTime"], (item, event)


def _run(max_examples: int, steps: int) -> None:
    SandboxConvergence.TestCase.settings = settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    SandboxConvergence.TestCase().runTest()


@pytest.fixture(autouse=True)
def _sandbox_environment(file_keyring: None) -> Iterator[None]:
    yield


def test_spec_7_1_both_sides_converge_over_the_sandbox() -> None:
    """SPEC §7.1: a few random histories on the emulators with the real adapters converge."""
    _run(max_examples=3, steps=10)


@pytest.mark.slow
def test_spec_7_1_both_sides_converge_over_the_sandbox_longer() -> None:
    """SPEC §7.1: many more and longer histories (run with `-m slow`)."""
    _run(max_examples=40, steps=20)
