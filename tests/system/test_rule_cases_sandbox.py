"""RULE-CASES.md end to end, default settings: every case whose settings are SPEC §1's defaults,
on one sandbox, through the real Google and Salesforce adapters against both emulators.

One scenario holds the items of many cases at once, each with its case number in its subject. The
module's story runs the sessions once: the first sync, a second one with nothing changed (S1), one
after edits on both sides (V17–V20, K6, K8, C6, H2), one after a contact is deleted in the mailbox
(C4), one after Gmail's history expired (S5), and a crash after Salesforce accepted a create,
then the rerun (S2). A copy of both emulators' data is taken after each session; each test reads
the copy its case is about and asserts what Ann would see in Salesforce or in her mailbox.

The sandbox's settings are the defaults, plus the world of RULE-CASES.md (internal domain acme.io,
blocklist domain blocked.com), `sync-salesforce-tasks` on (the Tasks cases are written "with
sync-salesforce-tasks on") and `save-emails-as = email-message` (E19's setting, and what `auto`
chooses in this Enhanced Email org anyway). The other settings' cases are in
test_rule_cases_sandbox_settings.py.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rgsync.model import LABEL_SAVE, LABEL_SYNC_ERROR, Stream, Write, WriteResult
from rgsync.providers.memory import SimulatedCrash
from rgsync.providers.salesforce import SalesforceCrm
from rgsync.state import ProfileLock
from tests.system.rule_cases_sandbox import ZONE, Box, Snap, Story, open_story, scenario_text, skip_reasons

MAIN_ITEMS = r'''

# ---- org additions
[[org.events]]
key = "v15"
Subject = "V15 QBR prep"
StartDateTime = "+1d 14:00"
EndDateTime = "+1d 15:00"
WhoId = "@bob"

[[org.events]]
key = "v20"
Subject = "V20 Call planning"
StartDateTime = "+2d 16:00"

[[org.tasks]]
key = "k1"
Subject = "K1 Send Globex the revised quote"
ActivityDate = "+2d"
Priority = "High"
WhoId = "@bob"

[[org.tasks]]
key = "k2"
Subject = "K2 Initech security questionnaire"
ActivityDate = "+5d"
OwnerId = "@frank"

[[org.tasks]]
key = "k3"
Subject = "K3 Call Gus about the trial"
ActivityDate = "-3d"
Status = "Completed"

[[org.tasks]]
key = "k4"
Subject = "K4 Q3 check-in with Dave"
ActivityDate = "-58d"
Status = "Completed"
LastModifiedDate = "-57d 10:00"

[[org.tasks]]
key = "k5"
Subject = "K5 Email: Globex intro"
TaskSubtype = "Email"
Status = "Completed"
ActivityDate = "-1d"

[[org.tasks]]
key = "k6"
Subject = "K6 Prepare the contract draft"
ActivityDate = "+4d"

[[org.tasks]]
key = "k8"
Subject = "K8 Call Bob back"
ActivityDate = "+1d"

[[org.validation-rules]]
object = "EmailMessage"
field = "Subject"
contains = "REJECTED"
message = "Rejected emails must not be stored in Salesforce."

# ---- emails
[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["Ann Lee <ann@acme.com>"]
subject = "E1 Globex pricing question"
when = "-1d 09:15"
body = "Could you send the revised price list?"

[[mailbox.emails]]
from = "Carol Cole <carol@initech.com>"
to = ["ann@acme.com"]
subject = "E2 Initech kickoff agenda"
when = "-1d 10:05"
body = "Agenda attached."

[[mailbox.emails]]
from = "Erin Ellis <erin@hooli.com>"
to = ["ann@acme.com"]
subject = "E3 Hooli intro call"
when = "-2d 16:20"
body = "Do you have 30 minutes?"

[[mailbox.emails]]
from = "Gus Grant <gus@solo.com>"
to = ["ann@acme.com"]
subject = "E4 Trial feedback"
when = "-1d 13:00"
body = "The trial went well."

[[mailbox.emails]]
from = "Ann Lee <ann@acme.com>"
to = ["Bob Baker <bob@globex.com>"]
cc = ["Frank Fox <frank@acme.com>"]
subject = "E6 Price list for Globex"
when = "-1d 11:40"
body = "Hi Bob, the price list is attached."

[[mailbox.emails]]
from = "Frank Fox <frank@acme.com>"
to = ["ann@acme.com"]
cc = ["ops@acme.io"]
subject = "E7 Team lunch"
when = "-1d 12:00"
body = "Pizza?"

[[mailbox.emails]]
from = "Dave Dunn <dave@gmail.com>"
to = ["ann@acme.com"]
subject = "E8 Weekend plans"
when = "-1d 19:30"
body = "Hiking on Saturday?"

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
cc = ["Xena Xu <x@blocked.com>"]
subject = "E10 Globex security review"
when = "-3d 08:45"
body = "Please find the security review attached."

[[mailbox.emails]]
from = "Xena Xu <x@blocked.com>"
to = ["ann@acme.com"]
subject = "E11 Partnership offer"
when = "-2d 09:00"
body = "We would love to partner."

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
cc = ["Zed Zane <zed@globex.com>"]
subject = "E12 Meet our new buyer"
when = "-2d 11:00"
body = "Zed joins the buying team."

[[mailbox.emails]]
folder = "spam"
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "E16 You have won a prize"
when = "-1d 03:00"
body = "Click here."

[[mailbox.emails]]
when = "-1d 11:41"
raw = """
From: Mail Delivery Subsystem <MAILER-DAEMON@mail.acme.com>
To: ann@acme.com
Subject: E17 Undelivered Mail Returned to Sender
Message-ID: <e17-bounce@mail.acme.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

Your message to bob@globex.con could not be delivered.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.acme.com

Final-Recipient: rfc822; bob@globex.con
Action: failed
Status: 5.1.2

--BOUNDARY--
"""

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "E18 Onboarding notes"
when = "-18d 10:00"
body = "Notes from the onboarding call."

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com", "frank@acme.com"]
subject = "E19 Globex rollout kickoff"
message-id = "<e19-rollout@globex.com>"
when = "-1d 08:00"
body = "Kickoff next Monday."

[[mailbox.emails]]
key = "h2-first"
thread = "h2"
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "H2 Globex installation plan"
message-id = "<h2-first@globex.com>"
labels = ["Salesforce Thread"]
when = "-2d 10:00"
body = "Here is the installation plan."

# ---- calendar
[[mailbox.calendar]]
subject = "V1 Globex renewal review"
start = "+1d 10:00"
duration = "1h"
attendees = ["Bob Baker <bob@globex.com>"]

[[mailbox.calendar]]
subject = "V2 Globex roadmap preview"
organizer = "Bob Baker <bob@globex.com>"
response = "needs-action"
start = "+2d 15:00"
duration = "1h"

[[mailbox.calendar]]
subject = "V3 Globex pricing workshop"
organizer = "Bob Baker <bob@globex.com>"
response = "tentative"
start = "+3d 11:00"
duration = "2h"

[[mailbox.calendar]]
subject = "V5 1:1 Ann and Frank"
start = "+1d 16:00"
duration = "30m"
attendees = ["frank@acme.com"]

[[mailbox.calendar]]
subject = "V6 Vendor pitch"
start = "+2d 11:00"
duration = "30m"
attendees = ["x@blocked.com"]

[[mailbox.calendar]]
subject = "V7 Globex security sync"
start = "+3d 14:00"
duration = "30m"
attendees = ["x@blocked.com", "bob@globex.com"]

[[mailbox.calendar]]
subject = "V8 Dentist"
start = "+2d 08:00"
duration = "1h"

[[mailbox.calendar]]
subject = "V10 Farewell planning"
start = "+4d 12:00"
duration = "1h"
private = true
attendees = ["bob@globex.com"]

[[mailbox.calendar]]
subject = "V12 Globex annual kick-off"
start = "+74d 10:00"
duration = "1h"
attendees = ["bob@globex.com"]

[[mailbox.calendar]]
subject = "V14 Globex weekly stand-up"
start = "+1d 09:00"
duration = "30m"
attendees = ["bob@globex.com"]
recurrence = ["RRULE:FREQ=WEEKLY;COUNT=3"]

[[mailbox.calendar]]
subject = "V17 Globex pricing call"
start = "+2d 10:00"
duration = "1h"
attendees = ["bob@globex.com"]

[[mailbox.calendar]]
subject = "V18 Globex product demo"
start = "+2d 13:00"
duration = "1h"
attendees = ["bob@globex.com"]

[[mailbox.calendar]]
subject = "V19 Globex lunch"
start = "+3d 12:00"
duration = "1h"
attendees = ["bob@globex.com"]
'''

SETTINGS: dict[str, dict[str, Any]] = {
    "general.emails": {"save-as": "email-message"},
    "general.tasks": {"sync-salesforce-tasks": True},
}
S3_COUNT = 200
S3_REJECTED = "S3 Globex order line 057 REJECTED"
NEW_MOBILE = "+49 170 5550123"


def _crash_after_salesforce_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next session is killed right after Salesforce accepted its first writes (S2)."""
    real_apply = SalesforceCrm.apply

    def apply_then_die(self: SalesforceCrm, writes: list[Write]) -> list[WriteResult]:
        real_apply(self, writes)
        monkeypatch.undo()  # the rerun is a new process: the real adapter again
        raise SimulatedCrash("killed after Salesforce accepted the create, before rgsync recorded it")

    monkeypatch.setattr(SalesforceCrm, "apply", apply_then_die)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """The default-settings sandbox after all its sessions (see the module docstring)."""
    text = scenario_text("rule-cases-defaults", settings=SETTINGS, items=MAIN_ITEMS)
    with open_story(tmp_path_factory.mktemp("defaults") / "sandbox", text) as story:
        box = story.box
        # E19: Frank saved the same email (same Message-ID) in the org before Ann's first session.
        story.facts["Frank's email"] = box.org.insert(
            "EmailMessage",
            {
                "Subject": "E19 Globex rollout kickoff",
                "MessageIdentifier": "<e19-rollout@globex.com>",
                "FromAddress": "bob@globex.com",
                "ToAddress": "ann@acme.com; frank@acme.com",
                "Status": "3",
                "Incoming": True,
                "CreatedById": box.keys["frank"],
            },
            audit=True,
        )
        # S3: 200 emails from Bob; the org's validation rule refuses one of them.
        for n in range(S3_COUNT):
            subject = S3_REJECTED if n == 57 else f"S3 Globex order line {n:03d}"
            box.deliver(subject, "Bob Baker <bob@globex.com>")
        story.step("first")

        box.sandbox.salesforce.server.reset_counters()
        story.step("idle")  # S1: nothing changed since the first session
        story.facts["idle Salesforce calls"] = sum(box.sandbox.salesforce.server.calls.values())

        _edit_both_sides(box, story.snaps["first"])
        story.step("edited")

        box.google.people.delete_contact(box.contact_resource("Bob Baker"))  # C4
        story.step("contact deleted")

        box.google.expire_history()  # S5
        box.deliver("S5 Globex order confirmation", "Bob Baker <bob@globex.com>")
        story.step("history expired")

        box.deliver("S2 Globex signed contract", "Bob Baker <bob@globex.com>")  # S2
        with pytest.MonkeyPatch.context() as patch:
            _crash_after_salesforce_accepts(patch)
            with contextlib.suppress(SimulatedCrash):
                box.run()
                story.facts["no crash"] = True
        story.facts["saved before the rerun"] = len(box.snap().email("S2 Globex signed contract"))
        story.step("rerun")
        yield story


def _edit_both_sides(box: Box, before: Snap) -> None:
    """What Ann (in her mailbox) and the org (through its API) change before the third session."""
    sf = box.sf()
    calendar = box.google.calendar
    # V17: the same meeting renamed on both sides.
    calendar.update_event(box.event_id("V17 Globex pricing call"), {"summary": "V17 Pricing call (mailbox)"})
    [v17] = before.events_in_org("V17 Globex pricing call")
    sf.Event.update(v17["Id"], {"Subject": "V17 Pricing call (Salesforce)"})
    # V18: cancelled in the mailbox.  V19: its Event deleted in Salesforce.
    calendar.delete_event(box.event_id("V18 Globex product demo"))
    [v19] = before.events_in_org("V19 Globex lunch")
    sf.Event.delete(v19["Id"])
    # V20: a Salesforce Event down-synced to the mailbox, deleted in Salesforce.
    sf.Event.delete(box.keys["v20"])
    # K6: deleted in the mailbox.  K8: completed in the mailbox (Tasks API).
    box.delete_task_in_mailbox("K6 Prepare the contract draft")
    list_id = box.google.tasks.list_id("Salesforce Tasks")
    box.google_call(
        "PATCH", f"/tasks/v1/lists/{list_id}/tasks/{box.task_id('K8 Call Bob back')}", {"status": "completed"}
    )
    # C6: Bob's mobile number changed in the mailbox's contact.
    bob = box.contact_resource("Bob Baker")
    phones = box.google.people.get_contact(bob).get("phoneNumbers") or []
    box.google.people.update_contact(
        bob, {"phoneNumbers": [*phones, {"value": NEW_MOBILE, "type": "mobile"}]}
    )
    # H2: a later email in the thread, from someone Salesforce does not know.
    box.deliver(
        "Re: H2 Globex installation plan",
        "New Guy <newguy@other.com>",
        in_reply_to="<h2-first@globex.com>",
        thread="h2",
    )


def _the_one_email(snap: Snap, subject: str) -> dict[str, Any]:
    found = snap.email(subject)
    assert len(found) == 1, f"{subject!r} saved {len(found)} times"
    return found[0]


def _not_saved(story: Story, subject: str, reason: str | None) -> None:
    assert story.snaps["first"].email(subject) == [], f"{subject!r} was saved"
    assert LABEL_SAVE not in story.snaps["first"].labels[subject]
    if reason is not None:
        assert skip_reasons(story.results["first"], subject) == {reason}


def _tomorrow_at(hour: int) -> datetime:
    zone = ZoneInfo(ZONE)
    day = datetime.now(zone).date() + timedelta(days=1)
    return datetime.combine(day, time(hour), zone)


# --- emails (SPEC §3) ----------------------------------------------------------------------------


def test_the_sessions_complete(story: Story) -> None:
    assert list(story.results) == ["first", "idle", "edited", "contact deleted", "history expired", "rerun"]
    for result in story.results.values():
        assert result.status == "completed", result.message


def test_E1_email_from_bob_is_saved_with_bob_and_o2(story: Story) -> None:
    first = story.snaps["first"]
    subject = "E1 Globex pricing question"
    email = _the_one_email(first, subject)
    assert email["MessageIdentifier"] == story.message_id(subject)
    assert first.people(email) == {story.key("bob")}
    assert email["RelatedToId"] == story.key("o2")  # the newest of Ann's Globex opportunities
    assert LABEL_SAVE in first.labels[subject]  # Ann sees it was saved


def test_E2_email_from_carol_is_linked_to_initech_not_franks_o3(story: Story) -> None:
    first = story.snaps["first"]
    email = _the_one_email(first, "E2 Initech kickoff agenda")
    assert first.people(email) == {story.key("carol")}
    assert email["RelatedToId"] == story.key("initech")


def test_E3_email_from_lead_erin_names_erin_only(story: Story) -> None:
    first = story.snaps["first"]
    email = _the_one_email(first, "E3 Hooli intro call")
    assert first.people(email) == {story.key("erin")}
    assert email["RelatedToId"] is None


def test_E4_email_from_gus_without_opportunity_or_account_is_not_saved(story: Story) -> None:
    _not_saved(story, "E4 Trial feedback", "no-opportunity-or-account")


def test_E6_sent_email_to_bob_cc_frank_names_bob_only(story: Story) -> None:
    first = story.snaps["first"]
    email = _the_one_email(first, "E6 Price list for Globex")
    assert email["Incoming"] is False
    assert first.people(email) == {story.key("bob")}  # Frank is internal
    assert email["RelatedToId"] == story.key("o2")


def test_E7_email_among_colleagues_is_not_saved(story: Story) -> None:
    _not_saved(story, "E7 Team lunch", "internal")


def test_E8_email_from_free_mail_address_is_not_saved(story: Story) -> None:
    _not_saved(story, "E8 Weekend plans", "blocklisted")


def test_E10_blocklisted_cc_is_left_out(story: Story) -> None:
    first = story.snaps["first"]
    email = _the_one_email(first, "E10 Globex security review")
    assert first.people(email) == {story.key("bob")}
    assert "x@blocked.com" not in {
        r.get("RelationAddress") for r in first.rows("EmailMessageRelation", EmailMessageId=email["Id"])
    }


def test_E11_email_from_blocklisted_domain_is_not_saved(story: Story) -> None:
    _not_saved(story, "E11 Partnership offer", "blocklisted")


def test_E12_unknown_cc_is_ignored_and_nothing_is_created(story: Story) -> None:
    first = story.snaps["first"]
    email = _the_one_email(first, "E12 Meet our new buyer")
    assert first.people(email) == {story.key("bob")}
    assert first.rows("Contact", Email="zed@globex.com") == []
    assert first.rows("Lead", Email="zed@globex.com") == []


def test_E16_spam_is_never_read(story: Story) -> None:
    subject = "E16 You have won a prize"
    _not_saved(story, subject, None)
    assert skip_reasons(story.results["first"], subject) == set()  # not even considered
    assert story.snaps["first"].labels[subject] == {"SPAM"}


def test_E17_delivery_report_is_a_service_message(story: Story) -> None:
    _not_saved(story, "E17 Undelivered Mail Returned to Sender", "service-message")


def test_E18_email_older_than_history_days_is_not_saved_on_the_first_session(story: Story) -> None:
    _not_saved(story, "E18 Onboarding notes", None)


def test_E19_email_a_colleague_already_saved_is_linked_not_saved_again(story: Story) -> None:
    first = story.snaps["first"]
    saved = first.rows("EmailMessage", MessageIdentifier="<e19-rollout@globex.com>")
    assert [r["Id"] for r in saved] == [story.facts["Frank's email"]]
    ann_links = [
        link
        for link in first.links[Stream.EMAILS].values()
        if link.salesforce_id == story.facts["Frank's email"]
    ]
    assert len(ann_links) == 1


# --- threads (SPEC §3.6) -------------------------------------------------------------------------


def test_H2_without_thread_tracking_a_later_email_needs_its_own_people(story: Story) -> None:
    m1 = _the_one_email(story.snaps["first"], "H2 Globex installation plan")
    assert story.snaps["first"].people(m1) == {story.key("bob")}
    assert m1["RelatedToId"] == story.key("o2")
    later = "Re: H2 Globex installation plan"
    assert story.snaps["edited"].email(later) == []
    assert skip_reasons(story.results["edited"], later) == {"no-related-record"}


# --- calendar (SPEC §4) --------------------------------------------------------------------------


def test_V1_meeting_with_bob_is_saved_in_utc_with_bob_and_o2(story: Story) -> None:
    first = story.snaps["first"]
    [event] = first.events_in_org("V1 Globex renewal review")
    start = _tomorrow_at(10)  # 10:00 in Berlin
    assert event["StartDateTime"] == start.astimezone(UTC)
    assert event["EndDateTime"] == (start + timedelta(hours=1)).astimezone(UTC)
    assert first.people(event) == {story.key("bob")}
    assert event["WhatId"] == story.key("o2")


def test_V2_unanswered_invitation_is_not_saved(story: Story) -> None:
    assert story.snaps["first"].events_in_org("V2 Globex roadmap preview") == []
    assert skip_reasons(story.results["first"], "V2 Globex roadmap preview") == {"unanswered"}


def test_V3_tentatively_accepted_invitation_is_saved(story: Story) -> None:
    first = story.snaps["first"]
    [event] = first.events_in_org("V3 Globex pricing workshop")
    assert first.people(event) == {story.key("bob")}


def test_V5_meeting_with_colleagues_only_is_not_saved(story: Story) -> None:
    assert story.snaps["first"].events_in_org("V5 1:1 Ann and Frank") == []
    assert skip_reasons(story.results["first"], "V5 1:1 Ann and Frank") == {"internal"}


def test_V6_meeting_whose_attendees_are_all_blocklisted_is_not_saved(story: Story) -> None:
    assert story.snaps["first"].events_in_org("V6 Vendor pitch") == []
    assert skip_reasons(story.results["first"], "V6 Vendor pitch") == {"blocklisted"}


def test_V7_meeting_with_a_blocklisted_attendee_and_bob_names_bob(story: Story) -> None:
    first = story.snaps["first"]
    [event] = first.events_in_org("V7 Globex security sync")
    assert first.people(event) == {story.key("bob")}


def test_V8_appointment_is_not_saved_by_default(story: Story) -> None:
    assert story.snaps["first"].events_in_org("V8 Dentist") == []
    assert skip_reasons(story.results["first"], "V8 Dentist") == {"appointments-off"}


def test_V10_private_meeting_is_not_saved(story: Story) -> None:
    assert story.snaps["first"].events_in_org("V10 Farewell planning") == []
    assert skip_reasons(story.results["first"], "V10 Farewell planning") == {"private"}


def test_V12_meeting_beyond_the_calendar_window_is_not_saved(story: Story) -> None:
    first = story.snaps["first"]
    assert first.calendar("V12 Globex annual kick-off")  # it is in Ann's calendar
    assert first.events_in_org("V12 Globex annual kick-off") == []


def test_V14_weekly_meeting_is_one_event_per_occurrence(story: Story) -> None:
    events = story.snaps["first"].events_in_org("V14 Globex weekly stand-up")
    starts = sorted(e["StartDateTime"] for e in events)
    assert len(starts) == 3
    assert starts[0] == _tomorrow_at(9).astimezone(UTC)
    assert [b - a for a, b in itertools.pairwise(starts)] == [timedelta(weeks=1)] * 2


def test_V15_salesforce_event_is_in_the_calendar_tagged_and_nobody_was_invited(story: Story) -> None:
    first = story.snaps["first"]
    [event] = first.calendar("V15 QBR prep")
    assert event["extendedProperties"]["private"]["rgsync_salesforce_id"] == story.key("v15")
    start = datetime.fromisoformat(event["start"]["dateTime"])
    assert start == _tomorrow_at(14)
    sends = [choice for _method, eid, choice in first.send_updates if eid == event["id"]]
    assert sends and set(sends) == {"none"}
    assert {choice for _m, _e, choice in story.snaps["rerun"].send_updates} <= {"none"}


def test_V17_subject_changed_on_both_sides_keeps_the_mailbox_subject(story: Story) -> None:
    edited = story.snaps["edited"]
    assert edited.calendar("V17 Pricing call (mailbox)")
    assert [e["Subject"] for e in edited.rows("Event") if e["Subject"].startswith("V17")] == [
        "V17 Pricing call (mailbox)"
    ]


def test_V18_meeting_cancelled_in_the_mailbox_deletes_its_event(story: Story) -> None:
    assert story.snaps["first"].events_in_org("V18 Globex product demo")
    assert story.snaps["edited"].events_in_org("V18 Globex product demo") == []


def test_V19_event_deleted_in_salesforce_leaves_the_meeting_unlinked(story: Story) -> None:
    edited = story.snaps["edited"]
    [meeting] = edited.calendar("V19 Globex lunch")
    assert edited.events_in_org("V19 Globex lunch") == []
    assert meeting["id"] in story.snaps["first"].links[Stream.EVENTS]
    assert meeting["id"] not in edited.links[Stream.EVENTS]
    assert story.snaps["rerun"].events_in_org("V19 Globex lunch") == []  # not saved again later


def test_V20_down_synced_event_deleted_in_salesforce_leaves_the_calendar(story: Story) -> None:
    assert story.snaps["first"].calendar("V20 Call planning")
    assert story.snaps["edited"].calendar("V20 Call planning") == []


# --- tasks (SPEC §5) -----------------------------------------------------------------------------


def test_K1_open_task_of_ann_is_in_the_salesforce_tasks_list(story: Story) -> None:
    first = story.snaps["first"]
    task = first.task("K1 Send Globex the revised quote")
    [row] = first.rows("Task", Id=story.key("k1"))
    assert task["due"][:10] == row["ActivityDate"].isoformat()
    assert task["status"] == "needsAction"


def test_K2_task_of_frank_is_not_synced(story: Story) -> None:
    assert "K2 Initech security questionnaire" not in story.snaps["first"].task_titles()


def test_K3_task_completed_three_days_ago_is_synced(story: Story) -> None:
    assert story.snaps["first"].task("K3 Call Gus about the trial")["status"] == "completed"


def test_K4_task_completed_long_ago_is_not_synced(story: Story) -> None:
    assert "K4 Q3 check-in with Dave" not in story.snaps["first"].task_titles()


def test_K5_email_activity_is_not_synced(story: Story) -> None:
    titles = story.snaps["first"].task_titles()
    assert "K5 Email: Globex intro" not in titles
    assert not any(title.startswith(("Email:", "E1 ")) for title in titles)  # saved emails neither


def test_K6_task_deleted_in_the_mailbox_comes_back(story: Story) -> None:
    edited = story.snaps["edited"]
    title = "K6 Prepare the contract draft"
    assert title in edited.task_titles()
    assert edited.rows("Task", Id=story.key("k6"))  # Salesforce keeps it


def test_K8_task_completed_in_the_mailbox_is_completed_in_salesforce(story: Story) -> None:
    [row] = story.snaps["edited"].rows("Task", Id=story.key("k8"))
    assert row["Status"] == "Completed"


# --- contacts (SPEC §6) --------------------------------------------------------------------------


def test_C1_scope_mine_brings_anns_contacts(story: Story) -> None:
    assert story.snaps["first"].contact_names() == {"Bob Baker", "Dave Dunn", "Gus Grant"}


def test_C4_contact_deleted_in_the_mailbox_comes_back(story: Story) -> None:
    assert story.results["contact deleted"].streams[Stream.CONTACTS].created["mailbox"] == 1
    assert story.snaps["contact deleted"].contact_names() == {"Bob Baker", "Dave Dunn", "Gus Grant"}
    assert story.snaps["contact deleted"].rows("Contact", Id=story.key("bob"))  # never deleted in Salesforce


def test_C6_mobile_changed_in_the_mailbox_updates_salesforce(story: Story) -> None:
    [bob] = story.snaps["edited"].rows("Contact", Id=story.key("bob"))
    assert bob["MobilePhone"] == NEW_MOBILE


# --- sessions (SPEC §2, §7) ----------------------------------------------------------------------


def test_S1_a_second_session_with_nothing_changed_writes_nothing(story: Story) -> None:
    idle = story.results["idle"]
    assert idle.changes == 0
    assert sum(s.writes for s in idle.streams.values()) == 0
    assert idle.api_calls["salesforce"] <= 1 and story.facts["idle Salesforce calls"] <= 1


def test_S2_create_accepted_before_a_crash_is_adopted_not_duplicated(story: Story) -> None:
    assert "no crash" not in story.facts
    assert story.facts["saved before the rerun"] == 1  # Salesforce had it; rgsync did not know
    subject = "S2 Globex signed contract"
    email = _the_one_email(story.snaps["rerun"], subject)
    assert email["RelatedToId"] == story.key("o2")
    assert any(
        link.salesforce_id == email["Id"] for link in story.snaps["rerun"].links[Stream.EMAILS].values()
    )
    with story.box.state() as state:
        assert state.pending_intents() == []


def test_S3_one_record_refused_by_a_validation_rule_is_one_issue(story: Story) -> None:
    first = story.snaps["first"]
    saved = [r for r in first.rows("EmailMessage") if str(r["Subject"]).startswith("S3 ")]
    assert len(saved) == S3_COUNT - 1
    assert first.email(S3_REJECTED) == []
    assert [i.item.subject for i in first.issues("SF-VALIDATION")] == [S3_REJECTED]
    assert LABEL_SYNC_ERROR in first.labels[S3_REJECTED]


def test_S5_expired_gmail_history_relists_without_duplicates(story: Story) -> None:
    after = story.snaps["history expired"]
    ids = [r["MessageIdentifier"] for r in after.rows("EmailMessage")]
    assert len(ids) == len(set(ids))
    assert len(ids) == len(story.snaps["contact deleted"].rows("EmailMessage")) + 1  # only the new email
    _the_one_email(after, "S5 Globex order confirmation")
    assert story.snaps["contact deleted"].issues("CURSOR-RESET") == []
    [notice] = after.issues("CURSOR-RESET")
    assert notice.severity == "notice" and notice.stream is Stream.EMAILS


def test_S6_a_run_while_another_holds_the_lock_exits_75(story: Story) -> None:
    box = story.box
    box.sandbox.salesforce.server.reset_counters()
    box.sandbox.mailbox.server.reset_counters()
    with ProfileLock(box.sandbox.paths.lock_file):  # another `rgsync run` is under way
        code, out = box.cli("run", "--force")
    assert code == 75
    assert out.count("\n") == 1 and "another rgsync run is in progress" in out  # one line, no traceback
    assert sum(box.sandbox.mailbox.server.calls.values()) == 0
    assert sum(box.sandbox.salesforce.server.calls.values()) == 0


def test_S7_a_run_while_paused_touches_nothing(story: Story) -> None:
    box = story.box
    assert box.cli("pause")[0] == 0
    try:
        box.deliver("S7 Globex question while paused", "Bob Baker <bob@globex.com>")
        box.sf().Task.create({"Subject": "S7 Task made while paused", "OwnerId": box.user_id})
        before = box.snap()
        box.sandbox.salesforce.server.reset_counters()
        box.sandbox.mailbox.server.reset_counters()
        code, out = box.cli("run", "--force")
        assert code == 0 and "paused" in out
        after = box.snap()
        assert after.org == before.org
        assert after.labels == before.labels and after.task_titles() == before.task_titles()
        assert sum(box.sandbox.mailbox.server.calls.values()) == 0
        assert sum(box.sandbox.salesforce.server.calls.values()) == 0
    finally:
        box.cli("resume")
