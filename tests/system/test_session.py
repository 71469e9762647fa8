"""A whole session over the in-memory providers: SPEC §2 order and the reliability rules of §7.

Each test drives `SyncSession.run` the way `rgsync run` does and checks what a user would see on
both sides: records in the org, items and labels in the mailbox, links, issues, cursors.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime, timedelta

import pytest

from rgsync.model import (
    LABEL_SAVE,
    ContactItem,
    Create,
    EmailActivity,
    Side,
    Stream,
)
from rgsync.providers.base import RetriableError
from rgsync.providers.memory import SimulatedCrash
from tests.system.memory_world import ANN_ID, BERLIN, World, make_world, sf_event, sf_task


@pytest.fixture
def world(tmp_path) -> World:
    return make_world(tmp_path / "ann")


def saved_emails(world: World) -> list[EmailActivity]:
    return list(world.crm.emails.values())


def open_codes(world: World) -> list[str]:
    with world.state() as state:
        return [i.code for i in state.issues()]


def test_spec_2_first_session_saves_relevant_email_and_labels_it(world: World) -> None:
    """E1 end to end: bob → ann is saved once, linked to O2, and labelled `Salesforce` in the mailbox."""
    email = world.email("bob@globex.com", subject="Pricing")
    result = world.run()
    assert result.status == "completed"
    [saved] = saved_emails(world)
    assert saved.email.message_id == email.message_id
    assert saved.who_ids == (world.ids["bob"],)
    assert saved.what_id == world.ids["o2"]
    assert LABEL_SAVE in world.mailbox.emails[email.mailbox_id].labels
    assert result.streams[Stream.EMAILS].created["salesforce"] == 1


def test_S1_second_session_with_nothing_changed_writes_nothing_and_costs_one_salesforce_call(
    world: World,
) -> None:
    world.email("bob@globex.com")
    sf_task(world, "Call Bob")
    world.run()
    world.tick()
    calls_before = world.crm.api_calls
    result = world.run()
    assert result.changes == 0
    assert all(s.writes == 0 for s in result.streams.values())
    assert world.crm.api_calls - calls_before <= 1
    assert len(saved_emails(world)) == 1


def test_S2_crash_after_salesforce_accepted_a_create_is_adopted_not_duplicated(world: World) -> None:
    """SPEC §7.1: killed after the org accepted the create, before rgsync recorded it."""
    world.email("bob@globex.com", subject="One")
    world.email("carol@initech.com", subject="Two")
    world.crm.failures.crash_after_writes = 1
    with pytest.raises(SimulatedCrash):
        world.run()
    assert len(saved_emails(world)) == 1  # the org accepted the first create; rgsync never recorded it
    world.tick()
    result = world.run()
    assert result.status == "completed"
    assert len(saved_emails(world)) == 2
    with world.state() as state:
        assert len(state.links(Stream.EMAILS)) == 2
        assert state.pending_intents() == []


def test_S3_one_rejected_record_of_200_becomes_one_issue_and_199_are_saved(world: World) -> None:
    for n in range(200):
        world.email("bob@globex.com", subject=f"Quote {n}")

    def reject(write: object) -> str | None:
        if isinstance(write, Create) and isinstance(write.record, EmailActivity):
            return "SF-VALIDATION" if write.record.email.subject == "Quote 57" else None
        return None

    world.crm.failures.reject = reject
    calls_before = world.crm.calls_by_kind.get("apply", 0)
    result = world.run()
    assert len(saved_emails(world)) == 199
    assert result.streams[Stream.EMAILS].failed == 1
    assert open_codes(world) == ["SF-VALIDATION"]
    assert world.crm.calls_by_kind["apply"] - calls_before <= 4  # pages of 50 emails, one write call each


def test_spec_7_7_rejected_record_issue_is_resolved_when_it_later_syncs(world: World) -> None:
    world.email("bob@globex.com", subject="REJECT me")
    world.crm.failures.reject = lambda w: "SF-VALIDATION" if isinstance(w, Create) else None
    world.run()
    assert open_codes(world) == ["SF-VALIDATION"]
    world.crm.failures.reject = lambda w: None
    world.mailbox.expire_cursor(Stream.EMAILS)  # the email is listed again
    world.tick()
    world.run()
    assert len(saved_emails(world)) == 1
    assert open_codes(world) == [c for c in open_codes(world) if c != "SF-VALIDATION"]


def test_S4_mass_deletion_guard_stops_the_stream_until_allowed(world: World) -> None:
    """SPEC §7.5: more than max-deletes deletions on one side stop the stream until allowed."""
    for n in range(80):
        world.crm.put_contact(
            ContactItem(
                id=world.crm.new_id("003"),
                first_name="P",
                last_name=f"Person {n}",
                email=f"p{n}@corp{n}.com",
                owner_id=ANN_ID,
            )
        )
    world.run()
    assert len(world.mailbox.contacts) >= 80
    with world.state() as state:
        state.set_meta("budget_backoff_count", 0)
    # The user switches contact sync off: every Salesforce-origin contact would leave the mailbox.
    world.root.joinpath("settings.toml").write_text(
        world.root.joinpath("settings.toml").read_text()
        + "\n[general.contacts]\nsync-salesforce-contacts = false\n"
    )
    world.tick()
    result = world.run()
    assert result.streams[Stream.CONTACTS].status == "guarded"
    assert len(world.mailbox.contacts) >= 80
    assert "MASS-DELETE-GUARD" in open_codes(world)
    world.tick()
    result = world.run(allow_mass_delete=True)
    assert result.streams[Stream.CONTACTS].status == "ok"
    assert world.mailbox.contacts == {}
    assert "MASS-DELETE-GUARD" not in open_codes(world)  # the held-back deletions went through
    assert len(world.crm.contacts) >= 85  # Salesforce keeps its Contacts


def test_S5_expired_mailbox_cursor_relists_without_duplicates_and_notes_it(world: World) -> None:
    world.email("bob@globex.com")
    world.run()
    world.mailbox.expire_cursor(Stream.EMAILS)
    world.email("carol@initech.com")
    world.tick()
    result = world.run()
    assert result.status == "completed"
    assert len(saved_emails(world)) == 2
    assert "CURSOR-RESET" in open_codes(world)


def test_S7_paused_profile_touches_nothing(world: World) -> None:
    world.email("bob@globex.com")
    with world.state() as state:
        state.paused = True
    result = world.run()
    assert result.status == "paused"
    assert saved_emails(world) == []
    assert world.crm.api_calls == 0 and world.mailbox.api_calls == 0


def test_spec_7_2_not_due_until_the_interval_passes_and_idle_sessions_back_off(world: World) -> None:
    world.run()
    world.tick(5)
    assert world.run(force=False).status == "not-due"
    world.tick(30)
    first_idle = world.run(force=False)
    assert first_idle.status == "completed"
    gap1 = first_idle.next_due_at - world.now
    world.now = first_idle.next_due_at
    second_idle = world.run(force=False)
    gap2 = second_idle.next_due_at - world.now
    assert gap2 == min(gap1 * 2, timedelta(minutes=120))
    world.email("bob@globex.com")
    world.now = second_idle.next_due_at
    busy = world.run(force=False)
    assert busy.next_due_at - world.now == timedelta(minutes=30)


def test_spec_7_3_transient_failures_are_retried(world: World) -> None:
    world.email("bob@globex.com")
    world.crm.failures.fail_calls = [RetriableError("503 from Salesforce"), RetriableError("timeout")]
    result = world.run()
    assert result.status == "completed"
    assert len(saved_emails(world)) == 1


def test_spec_7_3_a_stream_that_keeps_failing_resumes_from_its_old_cursor(world: World) -> None:
    world.email("bob@globex.com")
    world.crm.failures.fail_calls = [RetriableError("503")] * 20
    result = world.run()
    assert result.status == "failed"
    assert result.exit_code == 1
    assert saved_emails(world) == []
    world.crm.failures.fail_calls = []
    world.tick()
    assert world.run().status == "completed"
    assert len(saved_emails(world)) == 1


def test_spec_7_4_api_budget_guard_stops_writing_and_backs_off(world: World) -> None:
    world.email("bob@globex.com")
    world.crm.api_limit = 100
    world.crm.api_used = 95  # 5% left, below the default min-api-remaining of 10%
    result = world.run()
    assert result.status == "failed"
    assert saved_emails(world) == []
    assert "SF-API-BUDGET" in open_codes(world)
    assert result.next_due_at is not None and result.next_due_at - world.now >= timedelta(minutes=30)


def test_spec_3_dry_run_changes_nothing_and_lists_plan(world: World) -> None:
    world.email("bob@globex.com", subject="Plan me")
    world.email("frank@acme.com", subject="Internal")
    result = world.run(dry_run=True)
    assert result.status == "dry-run"
    assert any(a.subject == "Plan me" or "Plan me" in str(a.write) for a in result.planned)
    assert any(s.reason.value == "internal" for s in result.skips)
    assert saved_emails(world) == []
    with world.state() as state:
        assert state.links(Stream.EMAILS) == {}
        assert state.cursor(Stream.EMAILS, Side.MAILBOX) is None
        assert state.last_session() is None


def test_V15_salesforce_event_is_down_synced_without_invitations(world: World) -> None:
    start = datetime(2026, 11, 29, 15, 0, tzinfo=BERLIN)
    event = sf_event(world, "Quarterly review", start)
    world.run()
    [item] = world.mailbox.events.values()
    assert item.subject == "Quarterly review"
    assert item.salesforce_id == event.id
    assert world.mailbox.invitations_sent == 0
    # V16: switching calendar sync off removes it from the mailbox; Salesforce keeps the Event.
    world.root.joinpath("settings.toml").write_text(
        world.root.joinpath("settings.toml").read_text()
        + "\n[general.events]\nsync-salesforce-calendar = false\nauto-save-meetings = false\n"
    )
    world.tick()
    world.run()
    assert world.mailbox.events == {}
    assert event.id in world.crm.events


def test_V1_meeting_is_saved_as_event_and_later_edits_flow(world: World) -> None:
    meeting = world.meeting("Demo", ("bob@globex.com",))
    world.run()
    [event] = [e for e in world.crm.events.values() if e.created_by_rgsync]
    assert event.who_ids == (world.ids["bob"],)
    assert event.what_id == world.ids["o2"]
    # V17: subject changed on both sides → the mailbox's wins on both.
    world.mailbox.edit(Stream.EVENTS, meeting.id, subject="Demo (mailbox)")
    world.crm.edit(Stream.EVENTS, event.id, subject="Demo (salesforce)")
    world.tick()
    world.run()
    assert world.crm.events[event.id].subject == "Demo (mailbox)"
    assert world.mailbox.events[meeting.id].subject == "Demo (mailbox)"


def test_K1_task_is_down_synced_and_completion_flows_back(world: World) -> None:
    world.root.joinpath("settings.toml").write_text(
        world.root.joinpath("settings.toml").read_text() + "\n[general.tasks]\nsync-salesforce-tasks = true\n"
    )
    task = sf_task(world, "Send proposal")
    world.run()
    [item] = world.mailbox.tasks.values()
    assert item.subject == "Send proposal" and item.salesforce_id == task.id
    world.mailbox.edit(Stream.TASKS, item.id, completed=True)
    world.tick()
    world.run()
    assert world.crm.tasks[task.id].completed is True


def test_C1_my_contacts_are_down_synced(world: World) -> None:
    world.run()
    names = sorted(c.first_name for c in world.mailbox.contacts.values())
    assert names == ["Bob", "Dave", "Gus"]


def test_spec_7_1_every_crash_point_converges_without_duplicates(tmp_path) -> None:
    """Crash after each accepted write in turn; the rerun must end where a clean session ends."""

    def build(root):
        w = make_world(root)
        w.email("bob@globex.com", subject="A")
        w.email("carol@initech.com", subject="B")
        w.meeting("Demo", ("bob@globex.com",))
        sf_event(w, "From SF", datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN))
        return w

    clean = build(tmp_path / "clean")
    clean.run()
    expected = (
        len(clean.crm.emails),
        len(clean.crm.events),
        len(clean.mailbox.events),
        len(clean.mailbox.contacts),
    )
    total_writes = clean.crm.failures.accepted_writes + clean.mailbox.failures.accepted_writes
    assert total_writes >= 4
    for n in range(1, total_writes + 1):
        w = build(tmp_path / f"crash{n}")
        w.crm.failures.crash_after_writes = n
        with contextlib.suppress(SimulatedCrash):
            w.run()
        w.crm.failures.crash_after_writes = None
        w.tick()
        w.run()
        got = (len(w.crm.emails), len(w.crm.events), len(w.mailbox.events), len(w.mailbox.contacts))
        assert got == expected, f"crash after write {n}"
        w.tick()
        again = w.run()
        assert again.changes == 0, f"crash after write {n}: not converged"


def test_dataclasses_are_frozen() -> None:
    """Domain records are values: a planner cannot change what a provider handed it."""
    item = ContactItem(id="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.id = "y"  # type: ignore[misc]


def test_E13_auto_resolve_creates_the_contact_under_the_website_account_and_links_it(world: World) -> None:
    world.root.joinpath("settings.toml").write_text(
        world.root.joinpath("settings.toml").read_text() + '\n[general.emails]\nauto-resolve = "contact"\n'
    )
    world.email("bob@globex.com", cc=("zed@globex.com",), subject="Intro")
    world.run()
    [zed] = [c for c in world.crm.contacts.values() if c.email == "zed@globex.com"]
    assert zed.account_id == world.ids["globex"]
    [saved] = saved_emails(world)
    assert set(saved.who_ids) == {world.ids["bob"], zed.id}
    assert saved.what_id == world.ids["o2"]


def test_E14_auto_resolve_lead_for_an_unknown_company(world: World) -> None:
    world.root.joinpath("settings.toml").write_text(
        world.root.joinpath("settings.toml").read_text() + '\n[general.emails]\nauto-resolve = "lead"\n'
    )
    world.email("new@newco.com", subject="Hello from Newco")
    world.run()
    [lead] = [p for p in world.crm.leads.values() if p.email == "new@newco.com"]
    [saved] = saved_emails(world)
    assert saved.who_ids == (lead.id,) and saved.what_id is None


def test_spec_3_4_a_refused_auto_resolve_create_becomes_an_issue(world: World) -> None:
    world.root.joinpath("settings.toml").write_text(
        world.root.joinpath("settings.toml").read_text() + '\n[general.emails]\nauto-resolve = "contact"\n'
    )
    world.crm.failures.reject = lambda w: (
        "SF-DUPLICATE" if isinstance(w, Create) and not isinstance(w.record, EmailActivity) else None
    )
    world.email("nia@newco.com", subject="Hi")
    result = world.run()
    assert result.status == "completed"
    assert "SF-DUPLICATE" in open_codes(world)
    assert saved_emails(world) == []


def test_spec_10_recovery_of_a_killed_batch_writes_its_outcome_in_a_few_statements(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §7.1 and §10: after a kill that left 300 saved emails unrecorded, the next session
    adopts every one, labels them, and records all that with batch writes, never row by row."""
    from rgsync.state import StateStore

    for n in range(300):
        world.email("bob@globex.com", subject=f"Quote {n}")
    world.crm.failures.crash_after_writes = 300
    with pytest.raises(SimulatedCrash):
        world.run()
    assert len(saved_emails(world)) == 300
    with world.state() as state:
        assert len(state.pending_intents()) == 300  # journalled, never resolved
        assert state.links(Stream.EMAILS) == {}
    row_by_row: list[str] = []
    for name in ("put_link", "add_intent", "drop_intent", "complete_intent"):
        original = getattr(StateStore, name)

        def counted(
            self: StateStore, *args: object, _name: str = name, _f: object = original, **kwargs: object
        ) -> object:
            row_by_row.append(_name)
            return _f(self, *args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(StateStore, name, counted)
    world.tick()
    result = world.run()
    assert result.status == "completed"
    assert len(saved_emails(world)) == 300  # adopted, not saved again
    assert all(LABEL_SAVE in e.labels for e in world.mailbox.emails.values())
    with world.state() as state:
        assert len(state.links(Stream.EMAILS)) == 300
        assert state.pending_intents() == []
    assert row_by_row == []
