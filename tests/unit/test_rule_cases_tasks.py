"""RULE-CASES.md, tasks (K1–K9), on the planner (SPEC §5), with sync-salesforce-tasks on."""

from __future__ import annotations

from datetime import UTC, date, datetime

from rgsync.engine.tasks import plan_tasks
from rgsync.engine.types import Plan
from rgsync.model import Delete, Link, RecordKind, Side, Stream, TaskItem
from tests.unit.world import FRANK_ID
from tests.unit.world import ctx as world_ctx
from tests.unit.world_calendar import (
    NOTHING,
    changes,
    creates,
    deletes,
    link_after,
    only_action,
    reasons,
    replace,
    sf_task,
    updates,
    with_links,
)


def down(*tasks: TaskItem, **settings: object) -> Plan:
    return plan_tasks(NOTHING, changes(*tasks), world_ctx(sync_salesforce_tasks=True, **settings))


def k1_linked() -> tuple[TaskItem, TaskItem, Link]:
    """K1 down-synced: the Salesforce Task, its mailbox copy and the stored link."""
    task = sf_task("Call Bob", task_id="00TK1")
    plan = down(task)
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, TaskItem)
    return task, replace(create.record, id="task-k1"), link_after(only_action(plan), "task-k1", Stream.TASKS)


def test_K1_open_task_owned_by_ann_is_created_in_the_mailbox_list() -> None:
    task = sf_task("Call Bob", task_id="00TK1")
    plan = down(task)
    (create,) = creates(plan, Side.MAILBOX)
    assert create.kind is RecordKind.TASK and create.key == "00TK1"
    assert isinstance(create.record, TaskItem)
    assert (create.record.subject, create.record.due, create.record.salesforce_id) == (
        "Call Bob",
        task.due,
        "00TK1",
    )
    change = only_action(plan).link
    assert change is not None and change.origin is Side.SALESFORCE


def test_K2_task_owned_by_frank_is_not_synced() -> None:
    plan = down(sf_task(owner_id=FRANK_ID))
    assert plan.actions == [] and reasons(plan) == ["not-owner"]


def test_K3_completed_task_due_three_days_ago_is_synced() -> None:
    plan = down(sf_task(completed=True, due=date(2026, 11, 25)))
    assert len(creates(plan, Side.MAILBOX)) == 1


def test_K4_task_completed_long_ago_is_not_synced() -> None:
    old = sf_task(completed=True, due=date(2026, 10, 1), last_modified=datetime(2026, 10, 2, 9, tzinfo=UTC))
    plan = down(old)
    assert plan.actions == [] and reasons(plan) == ["completed-long-ago"]


def test_K5_email_activity_is_not_synced() -> None:
    plan = down(sf_task("Email: Hello", subtype="Email"))
    assert plan.actions == [] and reasons(plan) == ["email-activity"]


def test_K6_task_deleted_in_the_mailbox_is_recreated_with_forbid_remove() -> None:
    task, copy, link = k1_linked()
    plan = plan_tasks(changes(deleted=[copy.id]), NOTHING, with_links([link], sync_salesforce_tasks=True))
    assert deletes(plan, Side.SALESFORCE) == []
    (create,) = creates(plan, Side.MAILBOX)
    assert isinstance(create.record, TaskItem)
    assert (create.record.subject, create.record.due, create.record.salesforce_id) == (
        task.subject,
        task.due,
        "00TK1",
    )
    change = only_action(plan).link
    assert change is not None and (change.mailbox_id, change.salesforce_id) == ("", "00TK1")


def test_K7_task_deleted_in_the_mailbox_is_deleted_in_salesforce_without_forbid_remove() -> None:
    _task, copy, link = k1_linked()
    context = with_links([link], sync_salesforce_tasks=True, tasks_forbid_remove=False)
    plan = plan_tasks(changes(deleted=[copy.id]), NOTHING, context)
    assert deletes(plan, Side.SALESFORCE) == [Delete(RecordKind.TASK, "00TK1")]
    assert creates(plan, Side.MAILBOX) == []


def test_K8_task_completed_in_the_mailbox_completes_it_in_salesforce() -> None:
    _task, copy, link = k1_linked()
    plan = plan_tasks(
        changes(replace(copy, completed=True)), NOTHING, with_links([link], sync_salesforce_tasks=True)
    )
    assert [(u.id, u.changes) for u in updates(plan, Side.SALESFORCE)] == [("00TK1", {"completed": True})]


def test_K9_switching_tasks_off_removes_the_copy_and_keeps_the_salesforce_task() -> None:
    _task, copy, link = k1_linked()
    plan = plan_tasks(NOTHING, NOTHING, with_links([link], sync_salesforce_tasks=False))
    assert deletes(plan, Side.MAILBOX) == [Delete(RecordKind.TASK, copy.id)]
    assert [a for a in plan.actions if a.side is Side.SALESFORCE] == []
