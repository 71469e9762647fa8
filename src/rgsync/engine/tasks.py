"""Tasks: the planner rules of SPEC §5.

In scope are Salesforce Tasks the user owns that are not email activities (TaskSubtype ≠ Email)
and are open, or completed with ActivityDate or LastModifiedDate within `tasks-completed-days`.
They are down-synced into the mailbox list `Salesforce Tasks`; tasks the user creates there are
created in Salesforce; subject, due date, completion, priority and notes flow both ways with the
mailbox winning conflicts. The shared folder-stream pattern lives in `rgsync.engine.merge`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from rgsync.engine.fields import TASK_FIELDS, TRUE
from rgsync.engine.merge import FolderStream, plan_folder_stream
from rgsync.engine.types import Plan, SideChanges, SkipReason, StreamContext
from rgsync.model import IssueReport, RecordKind, Stream, TaskItem

EMAIL_SUBTYPE = "email"


def _recent(due: date | None, last_modified: datetime | None, ctx: StreamContext) -> bool:
    """Due or modified within `tasks-completed-days` of now; a task with neither date counts as recent."""
    if due is None and last_modified is None:
        return True
    since = ctx.now - timedelta(days=ctx.rules.tasks_completed_days)
    if due is not None and due >= since.date():
        return True
    return last_modified is not None and last_modified >= since


def task_out_of_scope(task: TaskItem, ctx: StreamContext) -> SkipReason | None:
    """Why a Salesforce Task is not synced to the mailbox (SPEC §5), or None when it is in scope."""
    if task.owner_id != ctx.identity.user_id:
        return SkipReason.NOT_OWNER
    if task.subtype.strip().lower() == EMAIL_SUBTYPE:
        return SkipReason.EMAIL_ACTIVITY
    if task.completed and not _recent(task.due, task.last_modified, ctx):
        return SkipReason.COMPLETED_LONG_AGO
    return None


def _base_out_of_scope(base: Mapping[str, str], ctx: StreamContext) -> bool:
    """The same question for a link base (no owner or modification date there: the due date decides)."""
    if base.get("completed") != TRUE:
        return False
    due = base.get("due")
    return not _recent(date.fromisoformat(due) if due else None, None, ctx)


def task_key(task: TaskItem) -> str:
    """Natural key of a Task: Subject + due date + owner (as Revenue Grid deduplicates Tasks)."""
    due = task.due.isoformat() if task.due else ""
    return f"{task.subject.strip()}|{due}|{task.owner_id or ''}"


def _no_refusal(task: TaskItem) -> IssueReport | None:
    return None


def plan_tasks(mailbox: SideChanges[TaskItem], salesforce: SideChanges[TaskItem], ctx: StreamContext) -> Plan:
    """Plan one session of the tasks stream (SPEC §5).

    `mailbox` holds the changes of the `Salesforce Tasks` list; `salesforce` the user's Tasks as
    the session's query returned them (changed ones, and ids that were deleted or left the query).
    With `sync-salesforce-tasks` off the plan only removes Salesforce-origin tasks from the mailbox.
    """
    user_id = ctx.identity.user_id

    def for_salesforce(task: TaskItem) -> TaskItem:
        return dataclasses.replace(task, owner_id=user_id, salesforce_id=None, subtype="Task")

    spec = FolderStream(
        stream=Stream.TASKS,
        kind=RecordKind.TASK,
        record_type=TaskItem,
        enabled=ctx.rules.sync_salesforce_tasks,
        forbid_remove=ctx.rules.tasks_forbid_remove,
        keys=TASK_FIELDS,
        out_of_scope=lambda task: task_out_of_scope(task, ctx),
        base_out_of_scope=lambda base: _base_out_of_scope(base, ctx),
        natural_key=task_key,
        refuse_create=_no_refusal,
        for_salesforce=for_salesforce,
    )
    return plan_folder_stream(spec, mailbox, salesforce, ctx)
