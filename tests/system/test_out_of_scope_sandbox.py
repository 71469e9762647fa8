"""Records that leave the user's scope in Salesforce without being deleted, on every mailbox kind,
through the real adapters against the emulators (SPEC §4.5, §5, §6.2).

Salesforce reports no "left your scope" event and getDeleted does not list such records; the change
moves their SystemModstamp, so the delta read finds them and their mailbox copies go:

* a Task reassigned to Frank leaves `Salesforce Tasks` (SPEC §5: out of scope → removed), and stays
  Frank's in Salesforce, whether tasks-forbid-remove is on or off — the removal is rgsync's, not a
  deletion by the user, so it neither re-creates the task nor deletes Frank's;
* a down-synced Event reassigned to Frank, or moved beyond the calendar window, leaves the calendar
  and stays in Salesforce (the help article's "moves out of the sliding time window … gets deleted
  in email client, remains in Salesforce"; SPEC §4.5 treats it as deleted in Salesforce for a
  Salesforce-origin item);
* the Event of a meeting Ann saved from her calendar, reassigned to Frank, leaves the meeting in
  the calendar unlinked (SPEC §4.5, a mailbox-origin item), and a later edit does not save it again;
* a Contact handed to Frank (scope mine) or edited out of the list view (scope view) leaves
  `Salesforce Contacts`, and stays in Salesforce even with contacts-forbid-remove off;
* a Task Ann can no longer read at all (no related record, Activities "Controlled by Parent") is
  reported by nothing; the daily full listing of the scope removes its copy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rgsync.model import Side, Stream
from rgsync.providers.salesforce.cursor import RELIST_AFTER, StreamCursor
from tests.system.mailbox_kinds import KINDS, Hands, open_kind_box
from tests.system.rule_cases_sandbox import Box, scenario_text

ITEMS = """
[[org.tasks]]
key = "handed"
Subject = "Send Globex the price list"
ActivityDate = "+2d"

[[org.tasks]]
key = "kept"
Subject = "Plan the Globex kickoff"
ActivityDate = "+4d"

[[org.events]]
key = "handed_event"
Subject = "Globex onboarding call"
StartDateTime = "+1d 15:00"
EndDateTime = "+1d 16:00"

[[org.events]]
key = "moved_event"
Subject = "Globex site visit"
StartDateTime = "+2d 09:00"
EndDateTime = "+2d 11:00"

[[org.list-views]]
object = "Contact"
label = "Globex people"
developer-name = "Globex_people"
where = "AccountId = '@globex'"

[[mailbox.calendar]]
subject = "Globex pricing workshop"
start = "+3d 14:00"
duration = "1h"
attendees = ["Bob Baker <bob@globex.com>"]
"""

# (kind, contacts scope, forbid-remove for tasks and contacts)
CASES = [(kind, "mine", True) for kind in KINDS] + [(kind, "view", False) for kind in KINDS]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{c[1]}-forbid-{'on' if c[2] else 'off'}")
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    kind, scope, forbid = request.param
    settings: dict[str, dict[str, Any]] = {
        "general.tasks": {"sync-salesforce-tasks": True, "forbid-remove": forbid},
        "general.contacts": {"scope": scope, "forbid-remove": forbid},
    }
    if scope == "view":
        settings["general.contacts"]["view"] = "Globex people"
    text = scenario_text(f"scope-{kind}-{scope}", settings=settings, items=ITEMS)
    directory = tmp_path_factory.mktemp(f"scope-{kind}-{scope}") / "sandbox"
    with open_kind_box(directory, text, kind) as (box, hands):
        seen: dict[str, Any] = {"box": box, "hands": hands, "scope": scope, "results": {}}
        _step(seen, "first")
        sf, frank = box.sf(), box.keys["frank"]
        sf.Task.update(box.keys["handed"], {"OwnerId": frank})
        sf.Event.update(box.keys["handed_event"], {"OwnerId": frank})
        far = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
        sf.Event.update(
            box.keys["moved_event"],
            {"StartDateTime": far.isoformat(), "EndDateTime": (far + timedelta(hours=2)).isoformat()},
        )
        [workshop] = [e for e in box.org.records("Event") if e["Subject"] == "Globex pricing workshop"]
        seen["workshop event"] = workshop["Id"]
        sf.Event.update(workshop["Id"], {"OwnerId": frank})
        if scope == "mine":
            sf.Contact.update(box.keys["bob"], {"OwnerId": frank})  # Bob, Ann's, handed to Frank
        else:
            sf.Contact.update(box.keys["dave"], {"AccountId": box.keys["initech"]})  # out of the view
        _step(seen, "changed")
        hands.rename_meeting("Globex pricing workshop", "Globex pricing workshop (agenda)")
        _step(seen, "edited")
        _step(seen, "again")
        yield seen


def _step(seen: dict[str, Any], name: str) -> None:
    box: Box = seen["box"]
    hands: Hands = seen["hands"]
    result = box.run()
    assert result.status == "completed", (name, result.message)
    seen["results"][name] = result
    seen[name] = {
        "tasks": set(hands.tasks()),
        "calendar": {s: bool(i.salesforce_id) for s, i in hands.calendar().items()},
        "contacts": set(hands.contacts()),
    }
    with box.state() as state:
        seen[name]["links"] = {s: state.links(s) for s in (Stream.EVENTS, Stream.TASKS, Stream.CONTACTS)}


def test_before_the_changes_the_mailbox_holds_the_salesforce_items(story: dict[str, Any]) -> None:
    first = story["first"]
    assert {"Send Globex the price list", "Plan the Globex kickoff"} <= first["tasks"]
    assert first["calendar"]["Globex onboarding call"] and first["calendar"]["Globex site visit"]
    assert first["calendar"]["Globex pricing workshop"] is False  # Ann's own meeting, saved up
    expected = {"Bob Baker"} if story["scope"] == "mine" else {"Bob Baker", "Dave Dunn", "Xena Xu"}
    assert expected <= first["contacts"]


def test_spec_5_a_task_reassigned_to_a_colleague_leaves_the_mailbox_and_stays_in_salesforce(
    story: dict[str, Any],
) -> None:
    """SPEC §5: out of scope → removed from the mailbox; never re-created, never deleted in Salesforce."""
    box: Box = story["box"]
    for step in ("changed", "edited", "again"):
        assert "Send Globex the price list" not in story[step]["tasks"], step
        assert "Plan the Globex kickoff" in story[step]["tasks"], step
    [task] = [t for t in box.org.records("Task") if t["Id"] == box.keys["handed"]]
    assert task["OwnerId"] == box.keys["frank"]


def test_spec_4_5_a_down_synced_event_reassigned_or_moved_out_of_the_window_leaves_the_calendar(
    story: dict[str, Any],
) -> None:
    """SPEC §4.5 and the help article's window rule: removed from the mailbox, kept in Salesforce."""
    box: Box = story["box"]
    for step in ("changed", "again"):
        assert "Globex onboarding call" not in story[step]["calendar"], step
        assert "Globex site visit" not in story[step]["calendar"], step
    live = {e["Id"] for e in box.org.records("Event")}
    assert {box.keys["handed_event"], box.keys["moved_event"]} <= live


def test_spec_4_5_a_saved_meeting_whose_event_went_to_a_colleague_stays_unlinked_and_is_not_saved_again(
    story: dict[str, Any],
) -> None:
    """SPEC §4.5: a mailbox-origin meeting stays in the calendar unlinked; an edit saves nothing."""
    box: Box = story["box"]
    assert "Globex pricing workshop" in story["changed"]["calendar"]
    assert (
        story["changed"]["links"][Stream.EVENTS]
        .keys()
        .isdisjoint(
            {
                mid
                for mid, link in story["first"]["links"][Stream.EVENTS].items()
                if link.salesforce_id == story["workshop event"]
            }
        )
    )
    assert "Globex pricing workshop (agenda)" in story["again"]["calendar"]
    subjects = [str(e["Subject"]) for e in box.org.records("Event")]
    assert subjects.count("Globex pricing workshop") == 1  # Frank's, untouched
    assert "Globex pricing workshop (agenda)" not in subjects


def test_spec_6_2_a_contact_leaving_the_scope_leaves_the_mailbox_and_stays_in_salesforce(
    story: dict[str, Any],
) -> None:
    """SPEC §6.2: handed to Frank (scope mine) or edited out of the list view (scope view)."""
    box: Box = story["box"]
    leaver, key = ("Bob Baker", "bob") if story["scope"] == "mine" else ("Dave Dunn", "dave")
    for step in ("changed", "edited", "again"):
        assert leaver not in story[step]["contacts"], step
    assert any(c["Id"] == box.keys[key] for c in box.org.records("Contact"))
    if story["scope"] == "view":
        assert {"Bob Baker", "Xena Xu"} <= story["again"]["contacts"]


PRIVATE_ITEMS = """
[[org.tasks]]
key = "note"
Subject = "Book the team offsite"
ActivityDate = "+5d"
"""


@pytest.fixture(scope="module", params=KINDS)
def hidden(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A Task with no related record, handed to Frank in an org whose Activities are "Controlled
    by Parent": Ann can no longer read it, so no query and no getDeleted tells her it left."""
    kind = str(request.param)
    settings: dict[str, dict[str, Any]] = {"general.tasks": {"sync-salesforce-tasks": True}}
    text = scenario_text(f"hidden-{kind}", settings=settings, items=PRIVATE_ITEMS)
    with open_kind_box(tmp_path_factory.mktemp(f"hidden-{kind}") / "sandbox", text, kind) as (box, hands):
        box.org.activity_sharing = "parent"
        seen: dict[str, Any] = {"box": box, "results": {}}
        assert box.run().status == "completed"
        seen["first"] = set(hands.tasks())
        box.sf().Task.update(box.keys["note"], {"OwnerId": box.keys["frank"]})
        seen["visible after"] = box.sf().query(f"SELECT Id FROM Task WHERE Id = '{box.keys['note']}'")[
            "totalSize"
        ]
        assert box.run().status == "completed"
        seen["same day"] = set(hands.tasks())
        # A day later the Salesforce side of the stream is due for its daily full listing.
        with box.state() as state:
            stored = StreamCursor.decode(state.cursor(Stream.TASKS, Side.SALESFORCE))
            assert stored is not None and stored.listed_at is not None
            aged = dataclasses.replace(stored, listed_at=stored.listed_at - RELIST_AFTER)
            state.set_cursor(Stream.TASKS, Side.SALESFORCE, aged.encode())
        assert box.run().status == "completed"
        seen["a day later"] = set(hands.tasks())
        yield seen


def test_spec_5_a_task_the_user_can_no_longer_read_leaves_the_mailbox_at_the_daily_listing(
    hidden: dict[str, Any],
) -> None:
    """SPEC §5, §7.6: Salesforce reports nothing for a record that became unreadable; the daily
    full listing of the scope finds it missing and its mailbox copy goes; Frank keeps the Task."""
    box: Box = hidden["box"]
    assert "Book the team offsite" in hidden["first"]
    assert hidden["visible after"] == 0  # the emulator hides it from Ann, as Salesforce does
    assert "Book the team offsite" in hidden["same day"]
    assert "Book the team offsite" not in hidden["a day later"]
    [task] = [t for t in box.org.records("Task") if t["Id"] == box.keys["note"]]
    assert task["OwnerId"] == box.keys["frank"]
