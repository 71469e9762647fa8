"""Random edits on both sides, random setting flips and random crashes: the sides must converge
(SPEC §7.1). A hypothesis state machine over the in-memory providers.

After every clean session: no record is duplicated on either side, every email the rules save is
saved exactly once (nothing lost, cursors never skip), linked pairs agree on their synced fields,
and a second session right after has nothing left to do.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rgsync.model import Stream
from rgsync.providers.memory import SimulatedCrash
from tests.system.memory_world import BERLIN, SETTINGS, World, make_world, sf_event, sf_task

SENDERS = ["bob@globex.com", "carol@initech.com", "erin@hooli.com", "frank@acme.com", "dave@gmail.com"]
SAVED_SENDERS = {"bob@globex.com", "carol@initech.com", "erin@hooli.com"}  # E1, E2, E3
SUBJECTS = ["Alpha", "Beta", "Gamma", "Delta"]
DAYS = st.integers(min_value=1, max_value=20)


class Convergence(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.world: World = make_world(
            Path(self.tmp.name) / "ann", SETTINGS + "\n[general.tasks]\nsync-salesforce-tasks = true\n"
        )
        self.expected_emails: set[str] = set()
        self.clean = False

    def teardown(self) -> None:
        self.tmp.cleanup()

    # -- the user, in the mailbox ----------------------------------------------------------------
    @rule(sender=st.sampled_from(SENDERS), subject=st.sampled_from(SUBJECTS))
    def receive_email(self, sender: str, subject: str) -> None:
        email = self.world.email(sender, subject=subject)
        if sender in SAVED_SENDERS:
            self.expected_emails.add(email.message_id)
        self.clean = False

    @rule(subject=st.sampled_from(SUBJECTS), day=DAYS)
    def organise_meeting(self, subject: str, day: int) -> None:
        start = datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN) + timedelta(days=day)
        self.world.meeting(f"{subject} meeting", ("bob@globex.com",), start=start)
        self.clean = False

    @precondition(lambda self: bool(self.world.mailbox.events))
    @rule(data=st.data(), subject=st.sampled_from(SUBJECTS))
    def rename_in_mailbox(self, data: st.DataObject, subject: str) -> None:
        item_id = data.draw(st.sampled_from(sorted(self.world.mailbox.events)))
        self.world.mailbox.edit(Stream.EVENTS, item_id, subject=f"{subject} (mailbox)")
        self.clean = False

    @precondition(lambda self: bool(self.world.mailbox.events))
    @rule(data=st.data())
    def delete_in_mailbox(self, data: st.DataObject) -> None:
        item_id = data.draw(st.sampled_from(sorted(self.world.mailbox.events)))
        self.world.mailbox.remove(Stream.EVENTS, item_id)
        self.clean = False

    @precondition(lambda self: bool(self.world.mailbox.tasks))
    @rule(data=st.data())
    def complete_task_in_mailbox(self, data: st.DataObject) -> None:
        item_id = data.draw(st.sampled_from(sorted(self.world.mailbox.tasks)))
        self.world.mailbox.edit(Stream.TASKS, item_id, completed=True)
        self.clean = False

    # -- colleagues, in Salesforce -------------------------------------------------------------------
    @rule(subject=st.sampled_from(SUBJECTS), day=DAYS)
    def create_event_in_salesforce(self, subject: str, day: int) -> None:
        sf_event(
            self.world, f"{subject} (sf)", datetime(2026, 11, 28, 15, 0, tzinfo=BERLIN) + timedelta(days=day)
        )
        self.clean = False

    @precondition(lambda self: bool(self.world.crm.events))
    @rule(data=st.data(), subject=st.sampled_from(SUBJECTS))
    def rename_in_salesforce(self, data: st.DataObject, subject: str) -> None:
        event_id = data.draw(st.sampled_from(sorted(self.world.crm.events)))
        self.world.crm.edit(Stream.EVENTS, event_id, subject=f"{subject} (renamed in sf)")
        self.clean = False

    @precondition(lambda self: bool(self.world.crm.events))
    @rule(data=st.data())
    def delete_in_salesforce(self, data: st.DataObject) -> None:
        event_id = data.draw(st.sampled_from(sorted(self.world.crm.events)))
        self.world.crm.remove(Stream.EVENTS, event_id)
        self.clean = False

    @rule(subject=st.sampled_from(SUBJECTS))
    def create_task_in_salesforce(self, subject: str) -> None:
        sf_task(self.world, f"{subject} task")
        self.clean = False

    @rule()
    def expire_cursors(self) -> None:
        for stream in (Stream.EMAILS, Stream.EVENTS):
            self.world.mailbox.expire_cursor(stream)
        self.world.crm.expire_cursor(Stream.EVENTS)
        self.clean = False

    # -- sessions -----------------------------------------------------------------------------------------
    @rule(crash_at=st.integers(min_value=1, max_value=6), side=st.sampled_from(["salesforce", "mailbox"]))
    def crashing_session(self, crash_at: int, side: str) -> None:
        failures = self.world.crm.failures if side == "salesforce" else self.world.mailbox.failures
        failures.accepted_writes = 0
        failures.crash_after_writes = crash_at
        self.world.tick()
        with contextlib.suppress(SimulatedCrash):
            self.world.run()
        failures.crash_after_writes = None
        self.clean = False

    @rule()
    def clean_session(self) -> None:
        self.world.tick()
        result = self.world.run()
        assert result.status == "completed", result.message
        self.world.tick()
        again = self.world.run()
        assert again.changes == 0, {s.value: v.to_json() for s, v in again.streams.items()}
        self.clean = True

    # -- what must always hold ---------------------------------------------------------------------------------
    @invariant()
    def nothing_duplicated(self) -> None:
        ids = Counter(a.email.message_id for a in self.world.crm.emails.values())
        assert all(n == 1 for n in ids.values()), ids
        tags = Counter(e.salesforce_id for e in self.world.mailbox.events.values() if e.salesforce_id)
        assert all(n == 1 for n in tags.values()), tags
        task_tags = Counter(t.salesforce_id for t in self.world.mailbox.tasks.values() if t.salesforce_id)
        assert all(n == 1 for n in task_tags.values()), task_tags
        with self.world.state() as state:
            links = state.links(Stream.EVENTS)
        sf_ids = Counter(link.salesforce_id for link in links.values())
        assert all(n == 1 for n in sf_ids.values()), sf_ids

    @invariant()
    def converged_after_a_clean_session(self) -> None:
        if not self.clean:
            return
        saved = {a.email.message_id for a in self.world.crm.emails.values()}
        assert saved == self.expected_emails
        with self.world.state() as state:
            links = state.links(Stream.EVENTS)
        for link in links.values():
            mailbox_item = self.world.mailbox.events.get(link.mailbox_id)
            event = self.world.crm.events.get(link.salesforce_id)
            assert mailbox_item is not None and event is not None, link
            assert mailbox_item.subject == event.subject
            assert mailbox_item.start == event.start and mailbox_item.end == event.end


TestConvergence = Convergence.TestCase
TestConvergence.settings = settings(
    max_examples=25,
    stateful_step_count=14,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
