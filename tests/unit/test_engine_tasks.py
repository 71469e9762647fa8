"""Tasks planner rules, one test per rule of SPEC §5."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rgsync.engine.tasks import plan_tasks, task_key
from rgsync.engine.types import Plan
from rgsync.model import Delete, Link, Priority, RecordKind, Side, Stream, TaskItem, Update
from tests.unit.world import ANN_ID, FRANK_ID, NOW, TODAY
from tests.unit.world import ctx as world_ctx
from tests.unit.world_calendar import (
    NOTHING,
    changes,
    creates,
    deletes,
    link_after,
    link_only,
    mailbox_task,
    only_action,
    reasons,
    replace,
    sf_task,
    updates,
    with_links,
)


def down(*tasks: TaskItem, **settings: object) -> Plan:
    return plan_tasks(NOTHING, changes(*tasks), world_ctx(sync_salesforce_tasks=True, **settings))


def linked(**task_fields: object) -> tuple[TaskItem, TaskItem, Link]:
    """A Salesforce Task down-synced by a first session: (Task, mailbox copy, link)."""
    task = sf_task(task_id="00T1", **task_fields)  # type: ignore[arg-type]
    plan = down(task)
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, TaskItem)
    return task, replace(create.record, id="task-1"), link_after(only_action(plan), "task-1", Stream.TASKS)


def session(
    mailbox: list[TaskItem] | None = None,
    salesforce: list[TaskItem] | None = None,
    *,
    links: list[Link],
    mailbox_deleted: tuple[str, ...] = (),
    salesforce_deleted: tuple[str, ...] = (),
    **settings: object,
) -> Plan:
    settings.setdefault("sync_salesforce_tasks", True)
    return plan_tasks(
        changes(*(mailbox or []), deleted=mailbox_deleted),
        changes(*(salesforce or []), deleted=salesforce_deleted),
        with_links(links, **settings),
    )


# --- scope --------------------------------------------------------------------------------------


def test_spec_5_completed_task_modified_recently_is_in_scope_even_if_due_long_ago() -> None:
    task = sf_task(completed=True, due=date(2026, 9, 1), last_modified=NOW - timedelta(days=2))
    assert len(creates(down(task), Side.MAILBOX)) == 1


def test_spec_5_completed_window_follows_tasks_completed_days() -> None:
    task = sf_task(completed=True, due=TODAY - timedelta(days=5), last_modified=NOW - timedelta(days=5))
    assert reasons(down(task, tasks_completed_days=3)) == ["completed-long-ago"]
    assert len(creates(down(task, tasks_completed_days=7), Side.MAILBOX)) == 1


def test_spec_5_open_task_due_long_ago_is_still_in_scope() -> None:
    assert len(creates(down(sf_task(due=date(2025, 1, 1))), Side.MAILBOX)) == 1


def test_spec_5_email_subtype_is_recognised_whatever_its_case() -> None:
    assert reasons(down(sf_task(subtype="email"))) == ["email-activity"]


def test_spec_5_call_subtype_is_synced() -> None:
    assert len(creates(down(sf_task(subtype="Call")), Side.MAILBOX)) == 1


# --- creation -----------------------------------------------------------------------------------


def test_spec_5_task_created_in_the_mailbox_list_is_created_in_salesforce() -> None:
    task = mailbox_task("Send quote", due=TODAY + timedelta(days=2), priority=Priority.HIGH)
    plan = plan_tasks(changes(task), NOTHING, world_ctx(sync_salesforce_tasks=True))
    (create,) = creates(plan, Side.SALESFORCE)
    assert create.kind is RecordKind.TASK
    assert isinstance(create.record, TaskItem)
    assert (create.record.subject, create.record.owner_id, create.record.subtype) == (
        "Send quote",
        ANN_ID,
        "Task",
    )
    assert create.record.priority is Priority.HIGH
    assert create.key == task_key(create.record) == f"Send quote|{task.due}|{ANN_ID}"
    change = only_action(plan).link
    assert change is not None and (change.mailbox_id, change.salesforce_id, change.origin) == (
        task.id,
        "",
        Side.MAILBOX,
    )


def test_spec_5_tagged_copy_without_link_is_adopted_not_duplicated() -> None:
    task = sf_task(task_id="00TCRASH")
    orphan = replace(task, id="task-orphan", salesforce_id="00TCRASH")
    plan = plan_tasks(changes(orphan), changes(task), world_ctx(sync_salesforce_tasks=True))
    assert creates(plan, Side.MAILBOX) == [] and creates(plan, Side.SALESFORCE) == []
    (change,) = link_only(plan)
    assert (change.mailbox_id, change.salesforce_id) == ("task-orphan", "00TCRASH")


# --- fields flow both ways ----------------------------------------------------------------------

EDITS: dict[str, object] = {
    "subject": "Call Bob back",
    "due": date(2026, 12, 24),
    "completed": True,
    "priority": Priority.LOW,
    "notes": "Ask about renewal",
}


@pytest.mark.parametrize(("field", "value"), EDITS.items())
def test_spec_5_field_edited_in_the_mailbox_reaches_salesforce(field: str, value: object) -> None:
    _task, copy, link = linked()
    plan = session([replace(copy, **{field: value})], links=[link])
    assert [(u.id, u.changes) for u in updates(plan, Side.SALESFORCE)] == [("00T1", {field: value})]
    assert updates(plan, Side.MAILBOX) == []


@pytest.mark.parametrize(("field", "value"), EDITS.items())
def test_spec_5_field_edited_in_salesforce_reaches_the_mailbox(field: str, value: object) -> None:
    task, copy, link = linked()
    plan = session([], [replace(task, **{field: value})], links=[link])
    assert [(u.id, u.changes) for u in updates(plan, Side.MAILBOX)] == [(copy.id, {field: value})]


def test_spec_5_conflict_mailbox_wins() -> None:
    task, copy, link = linked()
    plan = session(
        [replace(copy, subject="Mine")], [replace(task, subject="Theirs", notes="n")], links=[link]
    )
    assert [u.changes for u in updates(plan, Side.SALESFORCE)] == [{"subject": "Mine"}]
    assert [u.changes for u in updates(plan, Side.MAILBOX)] == [{"notes": "n"}]
    assert all(a.link is not None and a.link.fields["subject"] == "Mine" for a in plan.actions)


def test_spec_5_unchanged_task_reported_again_plans_nothing() -> None:
    task, copy, link = linked()
    assert session([copy], [task], links=[link]).actions == []


# --- deletions and scope changes ----------------------------------------------------------------


def test_spec_5_task_deleted_in_salesforce_is_removed_from_the_mailbox() -> None:
    _task, copy, link = linked()
    plan = session(links=[link], salesforce_deleted=("00T1",))
    (action,) = plan.actions
    assert action.write == Delete(RecordKind.TASK, copy.id) and action.side is Side.MAILBOX
    assert action.link is not None and action.link.remove


def test_spec_5_mailbox_created_task_deleted_in_salesforce_is_removed_from_the_mailbox() -> None:
    task = mailbox_task("Send quote")
    first = plan_tasks(changes(task), NOTHING, world_ctx(sync_salesforce_tasks=True))
    link = link_after(only_action(first), "00TNEW", Stream.TASKS)
    plan = session(links=[link], salesforce_deleted=("00TNEW",))
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.TASK, task.id)]


@pytest.mark.parametrize(
    "change",
    [
        {"owner_id": FRANK_ID},
        {"subtype": "Email"},
        {"completed": True, "due": date(2026, 10, 1), "last_modified": datetime(2026, 10, 2, tzinfo=UTC)},
    ],
)
def test_spec_5_task_that_left_the_scope_is_removed_from_the_mailbox(change: dict[str, object]) -> None:
    task, copy, link = linked()
    plan = session([], [replace(task, **change)], links=[link])
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.TASK, copy.id)]
    assert [a for a in plan.actions if a.side is Side.SALESFORCE] == []


def test_spec_5_forbid_remove_recreates_from_the_salesforce_record_when_it_changed_too() -> None:
    task, copy, link = linked()
    plan = session([], [replace(task, subject="New name")], links=[link], mailbox_deleted=(copy.id,))
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, TaskItem) and create.record.subject == "New name"


def test_spec_5_forbid_remove_does_not_recreate_a_task_completed_long_ago() -> None:
    _task, copy, link = linked(completed=True, due=TODAY, last_modified=NOW)
    later = NOW + timedelta(days=60)
    plan = session(links=[link], mailbox_deleted=(copy.id,), now=later)
    assert creates(plan, Side.MAILBOX) == [] and deletes(plan, Side.SALESFORCE) == []
    assert [c.remove for c in link_only(plan)] == [True]


def test_spec_5_deleted_on_both_sides_only_unlinks() -> None:
    _task, copy, link = linked()
    plan = session(
        links=[link], mailbox_deleted=(copy.id,), salesforce_deleted=("00T1",), tasks_forbid_remove=False
    )
    assert [a.write for a in plan.actions] == [None]


def test_spec_5_mailbox_deletion_without_forbid_remove_counts_for_the_mass_deletion_guard() -> None:
    _task, copy, link = linked()
    plan = session(links=[link], mailbox_deleted=(copy.id,), tasks_forbid_remove=False)
    assert plan.deletes(Stream.TASKS, Side.SALESFORCE) == 1


# --- switch off ---------------------------------------------------------------------------------


def test_spec_5_switch_off_keeps_mailbox_origin_tasks_and_ignores_salesforce() -> None:
    _task, copy, sf_link = linked()
    mine = mailbox_task("Send quote")
    first = plan_tasks(changes(mine), NOTHING, world_ctx(sync_salesforce_tasks=True))
    mb_link = link_after(only_action(first), "00TMINE", Stream.TASKS)
    plan = session([], [sf_task()], links=[sf_link, mb_link], sync_salesforce_tasks=False)
    assert [(type(a.write), a.side) for a in plan.actions] == [(Delete, Side.MAILBOX)]
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.TASK, copy.id)]


def test_spec_5_switch_off_with_the_copy_already_gone_only_unlinks() -> None:
    _task, copy, link = linked()
    plan = session(links=[link], mailbox_deleted=(copy.id,), sync_salesforce_tasks=False)
    assert [a.write for a in plan.actions] == [None]


def test_spec_5_update_actions_carry_the_new_base() -> None:
    _task, copy, link = linked()
    plan = session([replace(copy, notes="x")], links=[link])
    (action,) = plan.actions
    assert isinstance(action.write, Update)
    assert action.link is not None and action.link.fields["notes"] == "x" and not action.link.remove
