"""The API-budget threshold (SPEC §7.4) through the real adapters, on every mailbox kind: rgsync
stops before the share of the org's daily allocation left would fall below `min-api-remaining`,
counting the calls the next batch needs — with 100 calls a day and a floor of 10 %, the org never
shows more than 90 used — and what it held back is saved once, later, when calls are free again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rgsync.engine.budget import calls_for_writes, check_budget
from rgsync.model import ApiUsage, Delete, RecordKind, Stream, Update
from tests.system.mailbox_kinds import KINDS, open_kind_box
from tests.system.rule_cases_sandbox import Box, scenario_text

SUBJECTS = [f"Budget note {n}" for n in range(1, 7)]
EMAILS = "".join(
    f"""
[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "{subject}"
when = "-1d 09:{n:02d}"
body = "Numbers for the renewal, part {n}."
"""
    for n, subject in enumerate(SUBJECTS)
)
LIMIT = 100


def test_the_last_batch_allowed_ends_exactly_at_the_floor() -> None:
    """SPEC §7.4: 100 calls a day, floor 10 % → a batch may end at 90 used, never at 91."""
    assert check_budget(ApiUsage(used=88, limit=100), 10, 2).allowed
    assert not check_budget(ApiUsage(used=89, limit=100), 10, 2).allowed
    assert not check_budget(ApiUsage(used=90, limit=100), 10, 1).allowed
    assert check_budget(ApiUsage(used=90, limit=100), 10, 0).allowed
    assert check_budget(None, 10, 50).allowed  # nothing read yet: the first answer tells


def test_a_batch_counts_one_collections_call_per_200_records_and_its_preparing_lookups() -> None:
    """SPEC §7.4, §10: 450 updates are three Collections calls; emails add their people look-ups."""
    updates = [Update(RecordKind.TASK, f"00T{n:015d}", {"subject": "x"}) for n in range(450)]
    assert calls_for_writes(updates) == 3
    deletes = [Delete(RecordKind.TASK, "00T000000000001AAA")]
    assert calls_for_writes(updates + deletes) == 4
    assert calls_for_writes([]) == 0


@pytest.fixture(scope="module", params=KINDS)
def budget_story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    kind = str(request.param)
    text = scenario_text(f"budget-{kind}", items=EMAILS)
    with open_kind_box(tmp_path_factory.mktemp(f"budget-{kind}") / "sandbox", text, kind) as (box, _hands):
        seen: dict[str, Any] = {"box": box, "runs": []}
        # Each session starts a little closer to the floor than the last stopped.
        for start in (84, 86, 88, 89, 90):
            box.org.set_allocation(start, LIMIT)
            result = box.run()
            seen["runs"].append((start, result, box.org.api_used, _saved(box)))
        # A day later the allocation is free again: what was held back is saved, once.
        box.org.set_allocation(0, LIMIT)
        with box.state() as state:
            state.set_meta("api_usage", None)  # the last session's reading is a day old by now
        seen["later"] = box.run()
        seen["saved"] = _saved(box)
        with box.state() as state:
            seen["issues"] = state.issues(include_resolved=True)
        yield seen


def _saved(box: Box) -> list[str]:
    return sorted(str(m["Subject"]) for m in box.org.records("EmailMessage") if str(m["Subject"]) in SUBJECTS)


def test_sessions_never_take_the_org_below_min_api_remaining(budget_story: dict[str, Any]) -> None:
    """SPEC §7.4: whatever the allocation at the start, a session stops at 90 of 100 calls used."""
    for start, result, used_after, _saved_then in budget_story["runs"]:
        assert used_after <= max(start, LIMIT * 90 // 100), (start, used_after)
        if used_after >= 89:
            assert result.status == "failed"
    stopped = [r for _s, r, _u, _x in budget_story["runs"] if r.streams[Stream.EMAILS].status == "budget"]
    assert stopped, "the floor was never reached"
    assert "min-api-remaining" in (stopped[0].message or "")
    assert any(i.code == "SF-API-BUDGET" for i in budget_story["issues"])


def test_a_session_at_the_floor_makes_no_call_at_all(budget_story: dict[str, Any]) -> None:
    """SPEC §7.4: at 90 of 100 used, even the first read is held back."""
    start, result, used_after, _ = budget_story["runs"][-1]
    assert (start, used_after) == (90, 90)
    assert result.status == "failed"


def test_what_the_budget_held_back_is_saved_once_when_calls_are_free(budget_story: dict[str, Any]) -> None:
    """SPEC §7.1, §7.4: nothing lost, nothing saved twice across the stopped sessions."""
    assert budget_story["later"].status == "completed", budget_story["later"].message
    assert budget_story["saved"] == sorted(SUBJECTS)
