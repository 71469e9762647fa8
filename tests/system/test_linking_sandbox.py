"""Linking rules on every mailbox kind, through the real adapters against the emulators.

* One person, two Contact records (SPEC §3.3, §3.5): Pat Park works with Ann at Globex and at
  Umbrella, and Salesforce holds a Contact for each, with the same address. An email and a meeting
  with Pat relate both Contacts and take the newest of Ann's Opportunities across both Accounts.
* V17 (SPEC §4.4, calendar-direction two-way): a meeting renamed in the mailbox and in Salesforce
  before the next session carries the mailbox's subject on both sides.
* V19 (SPEC §4.5): a meeting whose Event was deleted in Salesforce stays in the mailbox unlinked,
  and a later edit of it in the mailbox does not save it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rgsync.model import Stream
from tests.system.mailbox_kinds import KINDS, open_kind_box
from tests.system.rule_cases_sandbox import scenario_text

ITEMS = """
[[org.accounts]]
key = "umbrella"
Name = "Umbrella"
Website = "umbrella.com"

[[org.contacts]]
key = "pat_globex"
FirstName = "Pat"
LastName = "Park"
Email = "pat@parkconsult.com"
AccountId = "@globex"

[[org.contacts]]
key = "pat_umbrella"
FirstName = "Pat"
LastName = "Park"
Email = "pat@parkconsult.com"
AccountId = "@umbrella"

[[org.opportunities]]
key = "o4"
Name = "O4 Umbrella rollout"
AccountId = "@umbrella"
StageName = "Prospecting"
CloseDate = "+20d"
LastModifiedDate = "-2d 10:00"

[[mailbox.emails]]
from = "Pat Park <pat@parkconsult.com>"
to = ["ann@acme.com"]
subject = "Rollout plan from Pat"
when = "-1d 11:00"
body = "Here is the plan for both sites."

[[mailbox.calendar]]
subject = "Rollout workshop with Pat"
start = "+2d 10:00"
duration = "1h"
attendees = ["Pat Park <pat@parkconsult.com>"]

[[mailbox.calendar]]
subject = "V17 Globex pricing call"
start = "+4d 09:00"
duration = "1h"
attendees = ["Bob Baker <bob@globex.com>"]

[[mailbox.calendar]]
subject = "V19 Globex lunch"
start = "+3d 12:00"
duration = "1h"
attendees = ["Bob Baker <bob@globex.com>"]
"""


@pytest.fixture(scope="module", params=KINDS)
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    kind = str(request.param)
    text = scenario_text(f"linking-{kind}", settings={"general.emails": {"save-as": "task"}}, items=ITEMS)
    with open_kind_box(tmp_path_factory.mktemp(f"linking-{kind}") / "sandbox", text, kind) as (box, hands):
        seen: dict[str, Any] = {"box": box, "results": {}}
        seen["results"]["first"] = box.run()
        [v19] = [e for e in box.org.records("Event") if e["Subject"] == "V19 Globex lunch"]
        seen["v19 event"] = v19["Id"]
        box.sf().Event.delete(v19["Id"])
        # V17, calendar-direction two-way: renamed on both sides before the next session.
        [v17] = [e for e in box.org.records("Event") if e["Subject"] == "V17 Globex pricing call"]
        seen["v17 event"] = v17["Id"]
        box.sf().Event.update(v17["Id"], {"Subject": "V17 Pricing call (Salesforce)"})
        hands.rename_meeting("V17 Globex pricing call", "V17 Pricing call (mailbox)")
        seen["results"]["deleted"] = box.run()
        seen["meeting"] = hands.calendar()["V19 Globex lunch"].id
        with box.state() as state:
            seen["links after delete"] = state.links(Stream.EVENTS)
        hands.rename_meeting("V19 Globex lunch", "V19 Globex lunch (moved room)")
        seen["results"]["edited"] = box.run()
        seen["results"]["again"] = box.run()
        with box.state() as state:
            seen["links"] = state.links(Stream.EVENTS)
        seen["calendar"] = hands.calendar()
        yield seen


def _relations(box: Any, parent: str, activity_id: str, kind: str) -> set[str]:
    return {
        str(r["RelationId"])
        for r in box.org.records(kind)
        if r.get(parent) == activity_id
        and not r.get("IsWhat")
        and (kind == "TaskRelation" or r.get("IsParent"))
    }


def test_sessions_complete(story: dict[str, Any]) -> None:
    for name, result in story["results"].items():
        assert result.status == "completed", (name, result.message)


def test_an_email_from_a_person_with_two_contacts_relates_both_and_the_newest_opportunity(
    story: dict[str, Any],
) -> None:
    """SPEC §3.3, §3.5: both Contacts of the address; O4 (Umbrella) is newer than O2 (Globex)."""
    box = story["box"]
    [task] = [t for t in box.org.records("Task") if t["Subject"] == "Email: Rollout plan from Pat"]
    people = _relations(box, "TaskId", task["Id"], "TaskRelation") | {task["WhoId"]}
    assert people == {box.keys["pat_globex"], box.keys["pat_umbrella"]}
    assert task["WhatId"] == box.keys["o4"]


def test_a_meeting_with_a_person_with_two_contacts_relates_both_and_the_newest_opportunity(
    story: dict[str, Any],
) -> None:
    """SPEC §4.2, §3.5: the Event names both of Pat's Contacts and is related to O4."""
    box = story["box"]
    [event] = [e for e in box.org.records("Event") if e["Subject"] == "Rollout workshop with Pat"]
    people = _relations(box, "EventId", event["Id"], "EventRelation") | {event["WhoId"]}
    assert people == {box.keys["pat_globex"], box.keys["pat_umbrella"]}
    assert event["WhatId"] == box.keys["o4"]


def test_V19_a_meeting_whose_event_was_deleted_in_salesforce_is_not_saved_again_after_an_edit(
    story: dict[str, Any],
) -> None:
    """SPEC §4.5 (V19): unlinked, kept in the mailbox, and an edit there saves nothing new."""
    box = story["box"]
    assert story["meeting"] not in story["links after delete"]
    assert "V19 Globex lunch (moved room)" in story["calendar"]
    assert [e for e in box.org.records("Event") if str(e["Subject"]).startswith("V19")] == []
    assert story["meeting"] not in story["links"]
    edited = story["results"]["edited"]
    assert {s.reason.value for s in edited.skips if s.subject.startswith("V19")} == {"removed-in-salesforce"}


def test_V17_two_way_a_conflict_keeps_the_mailbox_subject_on_both_sides(story: dict[str, Any]) -> None:
    """SPEC §4.4, §4.6 (calendar-direction two-way): the mailbox wins a conflict."""
    box = story["box"]
    [event] = [e for e in box.org.records("Event") if e["Id"] == story["v17 event"]]
    assert event["Subject"] == "V17 Pricing call (mailbox)"
    assert "V17 Pricing call (mailbox)" in story["calendar"]
    assert "V17 Pricing call (Salesforce)" not in story["calendar"]
