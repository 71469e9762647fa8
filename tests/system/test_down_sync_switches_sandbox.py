"""Turning a down-sync switch off and back on (SPEC §4.3, §5, §6.2), on every mailbox kind, through
the real mailbox and Salesforce adapters against the emulators.

Off, `sync-salesforce-calendar`, `sync-salesforce-tasks` and `sync-salesforce-contacts` take the
Salesforce-origin items out of the mailbox. Back on, the next session brings back everything in
scope, including what changed in Salesforce while the switch was off, with no duplicate.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.system.mailbox_kinds import KINDS, Hands, open_kind_box
from tests.system.rule_cases_sandbox import Box, scenario_text

ITEMS = """
[[org.events]]
key = "v15"
Subject = "V15 Globex check-in"
StartDateTime = "+1d 14:00"
EndDateTime = "+1d 14:30"

[[org.tasks]]
key = "k1"
Subject = "K1 Call Bob about the renewal"
ActivityDate = "+3d"
"""
SETTINGS: dict[str, dict[str, Any]] = {"general.tasks": {"sync-salesforce-tasks": True}}
SWITCHES = ("sync-salesforce-calendar", "sync-salesforce-tasks", "sync-salesforce-contacts")


@pytest.fixture(scope="module", params=KINDS)
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    kind = str(request.param)
    text = scenario_text(f"switches-{kind}", settings=SETTINGS, items=ITEMS)
    with open_kind_box(tmp_path_factory.mktemp(f"switches-{kind}") / "sandbox", text, kind) as (box, hands):
        seen: dict[str, Any] = {"box": box, "hands": hands}
        _run(box)
        seen["first"] = _look(hands)
        for key in SWITCHES:
            box.set(key, "off")
        _run(box)
        seen["off"] = _look(hands)
        # While the switches are off, Salesforce moves on: a new Event, Task and Contact of Ann's.
        sf = box.sf()
        new_start = (
            (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0).isoformat()
        )
        sf.Event.create(
            {
                "Subject": "Added while off",
                "StartDateTime": new_start,
                "DurationInMinutes": 15,
                "OwnerId": box.user_id,
            }
        )
        sf.Task.create({"Subject": "Task added while off", "Status": "Not Started", "OwnerId": box.user_id})
        sf.Contact.create({"LastName": "Offwhile", "FirstName": "Olga", "Email": "olga@globex.com"})
        _run(box)  # a second session with the switches off
        for key in SWITCHES:
            box.set(key, "on")
        _run(box)
        seen["on"] = _look(hands)
        _run(box)
        seen["again"] = _look(hands)
        yield seen


def _run(box: Box) -> None:
    result = box.run()
    assert result.status == "completed", result.message


def _look(hands: Hands) -> dict[str, list[str]]:
    return {
        "calendar": sorted(s for s, i in hands.calendar().items() if i.salesforce_id),
        "tasks": sorted(hands.tasks()),
        "contacts": sorted(hands.contacts()),
    }


def test_switching_down_sync_off_removes_the_salesforce_items(story: dict[str, Any]) -> None:
    """SPEC §4.3, §5, §6.2: the switch-off empties the Salesforce-origin items from the mailbox."""
    assert "V15 Globex check-in" in story["first"]["calendar"]
    assert "K1 Call Bob about the renewal" in story["first"]["tasks"]
    assert "Bob Baker" in story["first"]["contacts"]
    assert story["off"] == {"calendar": [], "tasks": [], "contacts": []}


def test_switching_down_sync_back_on_brings_back_everything_in_scope(story: dict[str, Any]) -> None:
    """SPEC §4.3, §5, §6.2: back on, the first session lists the scope again — the items removed at
    the switch-off and the ones Salesforce gained meanwhile — and a later session keeps them once."""
    on = story["on"]
    assert set(story["first"]["calendar"]) | {"Added while off"} == set(on["calendar"])
    assert set(story["first"]["tasks"]) | {"Task added while off"} == set(on["tasks"])
    assert set(story["first"]["contacts"]) | {"Olga Offwhile"} == set(on["contacts"])
    assert story["again"] == on
    # No twin: one mailbox item per Salesforce record.
    hands: Hands = story["hands"]
    tagged = [i.salesforce_id for i in hands.listing_all() if getattr(i, "salesforce_id", None)]
    assert len(tagged) == len(set(tagged))
