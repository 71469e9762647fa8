"""The Salesforce emulator's index of activity relations answers exactly like a scan.

Every Task write looks up its TaskRelation rows (and a delete its children); the emulator keeps
them indexed by parent. Random writes, deletes, rollbacks and purges check the index against
a brute-force scan of every relation row.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgsync.sandbox.salesforce import SalesforceEmulator, load_scenario
from rgsync.sandbox.salesforce.clock import ManualClock
from rgsync.sandbox.salesforce.errors import RecordError
from rgsync.sandbox.salesforce.store import Org
from tests.sandbox.salesforce_support import NOW, SCENARIO

PEOPLE = ("bob", "carol", "dave", "erin")


def _scan(org: Org, kind: str, field: str, parent: str, include_deleted: bool) -> list[str]:
    return [r["Id"] for r in org.iter_rows(kind, include_deleted=include_deleted) if r[field] == parent]


step = st.one_of(
    st.tuples(st.just("task"), st.lists(st.sampled_from(PEOPLE), max_size=3, unique=True), st.booleans()),
    st.tuples(st.just("who"), st.integers(0, 20), st.sampled_from(PEOPLE)),
    st.tuples(
        st.just("whoids"), st.integers(0, 20), st.lists(st.sampled_from(PEOPLE), max_size=3, unique=True)
    ),
    st.tuples(st.just("relation"), st.integers(0, 20), st.sampled_from(PEOPLE)),
    st.tuples(st.just("delete"), st.integers(0, 20), st.booleans()),
    st.tuples(
        st.just("savepoint"),
    ),
    st.tuples(
        st.just("rollback"),
    ),
    st.tuples(
        st.just("purge"),
    ),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(step, min_size=1, max_size=25))
def test_relation_index_equals_a_scan(steps: list[tuple[Any, ...]]) -> None:
    """SPEC §10 (sandbox at scale): TaskRelation/EmailMessageRelation lookups by parent match a scan."""
    org = Org(clock=ManualClock(NOW))
    keys = load_scenario(SalesforceEmulator(org), SCENARIO)
    tasks: list[str] = []
    marks: list[int] = []
    for op in steps:
        try:
            if op[0] == "task":
                values: dict[str, Any] = {"Subject": "Call", "TaskWhoIds": [keys[p] for p in op[1]]}
                if op[2]:
                    values["WhatId"] = keys["o1"]
                tasks.append(org.insert("Task", values))
            elif op[0] == "who" and tasks:
                org.update(tasks[op[1] % len(tasks)], {"WhoId": keys[op[2]]})
            elif op[0] == "whoids" and tasks:
                org.update(tasks[op[1] % len(tasks)], {"TaskWhoIds": [keys[p] for p in op[2]]})
            elif op[0] == "relation" and tasks:
                org.insert("TaskRelation", {"TaskId": tasks[op[1] % len(tasks)], "RelationId": keys[op[2]]})
            elif op[0] == "delete" and tasks:
                task = tasks[op[1] % len(tasks)]
                relations = _scan(org, "TaskRelation", "TaskId", task, False)
                org.delete(relations[0] if op[2] and relations else task)
            elif op[0] == "savepoint":
                marks.append(org.savepoint())
            elif op[0] == "rollback" and marks:
                org.rollback(marks.pop())
            elif op[0] == "purge":
                org.purge_deleted()
        except RecordError:
            pass  # refused writes (a duplicate relation, a deleted task) must leave the index true
        for task in tasks:
            for include_deleted in (False, True):
                got = [r["Id"] for r in org.child_rows("TaskRelation", task, include_deleted=include_deleted)]
                assert got == _scan(org, "TaskRelation", "TaskId", task, include_deleted)


def test_a_duplicate_relation_is_still_refused() -> None:
    """The duplicate check reads the index: the same person twice on one task is DUPLICATE_VALUE."""
    org = Org(clock=ManualClock(NOW))
    keys = load_scenario(SalesforceEmulator(org), SCENARIO)
    task = org.insert("Task", {"Subject": "Call", "TaskWhoIds": [keys["bob"]]})
    with pytest.raises(RecordError) as caught:
        org.insert("TaskRelation", {"TaskId": task, "RelationId": keys["bob"]})
    assert caught.value.code == "DUPLICATE_VALUE"
    org.insert("TaskRelation", {"TaskId": task, "RelationId": keys["carol"]})
    assert len(org.child_rows("TaskRelation", task)) == 2
