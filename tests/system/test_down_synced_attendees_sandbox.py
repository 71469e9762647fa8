"""A down-synced Event lists its Salesforce people as attendees (SPEC §4.3), on every mailbox kind,
through the real mailbox and Salesforce adapters against the emulators.

A Salesforce Event names its Contacts and Leads by Id. The copy rgsync creates in the mailbox
lists them by address even when no mailbox item of the session mentions them: a new Event in a
later session, or the rerun of an interrupted session whose meetings are already linked.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rgsync.model import Stream
from tests.system.mailbox_kinds import KINDS, open_kind_box
from tests.system.rule_cases_sandbox import scenario_text

ITEMS = """
[[org.contacts]]
key = "zoe"
FirstName = "Zoe"
LastName = "Zimmer"
Email = "zoe@umbrella.example"

[[org.leads]]
key = "lena"
FirstName = "Lena"
LastName = "Lind"
Email = "lena@hooli.example"
Company = "Hooli"

[[org.events]]
key = "planning"
Subject = "Planning with Zoe"
StartDateTime = "+1d 10:00"
EndDateTime = "+1d 10:30"
WhoId = "@zoe"
"""


@pytest.fixture(scope="module", params=KINDS)
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    kind = str(request.param)
    text = scenario_text(f"attendees-{kind}", items=ITEMS)
    with open_kind_box(tmp_path_factory.mktemp(f"attendees-{kind}") / "sandbox", text, kind) as (box, hands):
        seen: dict[str, Any] = {}
        first = box.run()
        assert first.status == "completed", first.message
        seen["first"] = _people(box, hands)
        sf = box.sf()
        lena = sf.query("SELECT Id FROM Lead WHERE Email = 'lena@hooli.example'")["records"][0]["Id"]
        start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        sf.Event.create(
            {
                "Subject": "Intro call with Lena",
                "StartDateTime": start.isoformat(),
                "DurationInMinutes": 30,
                "OwnerId": box.user_id,
                "WhoId": lena,
            }
        )
        second = box.run()
        assert second.status == "completed", second.message
        seen["second"] = _people(box, hands)
        seen["subjects"] = [getattr(i, "subject", "") for i in hands.listing(Stream.EVENTS)]
        yield seen


def _people(box: Any, hands: Any) -> dict[str, str]:
    """Each meeting's people as the user sees them, by subject.

    Exchange and Gmail list them as attendees. Graph cannot create a meeting without inviting its
    attendees, so on Microsoft 365 they are listed in the body instead.
    """
    if box.sandbox.mailbox_kind == "microsoft365":
        state = box.sandbox.mailbox.state
        with state.lock:
            return {e.subject: str(e.body.get("content", "")).lower() for e in state.calendar.events.values()}
    return {
        subject: " ".join(sorted(a.address.email.lower() for a in item.attendees))
        for subject, item in hands.calendar().items()
    }


def test_spec_4_3_an_event_whose_contact_no_mailbox_item_mentions_is_copied_with_that_contact(
    story: dict[str, Any],
) -> None:
    assert "zoe@umbrella.example" in story["first"]["Planning with Zoe"]


def test_spec_4_3_a_new_event_in_a_later_session_is_copied_with_its_lead(story: dict[str, Any]) -> None:
    assert "lena@hooli.example" in story["second"]["Intro call with Lena"]
    # The first copy is left as it was: no duplicate, still with its Contact.
    assert story["subjects"].count("Planning with Zoe") == 1
    assert "zoe@umbrella.example" in story["second"]["Planning with Zoe"]
