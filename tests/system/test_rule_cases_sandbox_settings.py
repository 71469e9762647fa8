"""RULE-CASES.md end to end, the cases that need settings other than the defaults: a few small
sandboxes, each holding the cases whose settings can live together without changing each other's
outcome, through the real Google and Salesforce adapters against both emulators.

* `alternative`: link-to-opportunities off (E5, SPEC §3.5), auto-resolve lead (E14, §3.4),
  calendar-direction mailbox-to-salesforce (V21, §4.6), contacts-scope all (C2, §6.1), tasks on
  with tasks-forbid-remove off (K7, §5), contacts-forbid-remove off (C5, §6.2). Its only emails
  are E5's (a known Contact, so auto-resolve has nothing to do) and E14's (a Lead, so no
  Opportunity either way).
* `resolving`: auto-resolve contact with block-free-email-domains off (E9, E13, E15; §3.2, §3.4).
* `saving-more`: auto-save-threads, save-unanswered-invitations, auto-save-appointments,
  save-private-events on, contacts-scope view (H1, §3.6; V4, V9, V11, V13, §4.2, §4.7; C3, §6.1).
* `quiet`: auto-save-emails off (E20, E22; §3.6), and S4's 80 contacts (§7.5).
* `switching-off`: email-direction outbound (E21, §3.1), then sync-salesforce-calendar, -tasks
  and -contacts turned off (V16, K9, C7; §4.3, §5, §6.2).

As in test_rule_cases_sandbox.py, each story runs its sessions once per module and keeps a copy of
both emulators' data after each; the tests assert on those copies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from rgsync.model import LABEL_SAVE, Stream
from tests.system.rule_cases_sandbox import Story, open_story, scenario_text, skip_reasons


@contextlib.contextmanager
def _story(
    factory: pytest.TempPathFactory, name: str, settings: dict[str, dict[str, Any]], items: str
) -> Iterator[Story]:
    text = scenario_text(f"rule-cases-{name}", settings=settings, items=items)
    with open_story(factory.mktemp(name) / "sandbox", text) as story:
        yield story


def _completed(story: Story) -> None:
    assert story.results
    for result in story.results.values():
        assert result.status == "completed", result.message


# === alternative: E5, E14, V21, C2, K7, C5 =======================================================

ALTERNATIVE_SETTINGS: dict[str, dict[str, Any]] = {
    "linking": {"link-to-opportunities": False},
    "general.emails": {"auto-resolve": "lead"},
    "general.events": {"direction": "mailbox-to-salesforce"},
    "general.tasks": {"sync-salesforce-tasks": True, "forbid-remove": False},
    "general.contacts": {"scope": "all", "forbid-remove": False},
}
ALTERNATIVE_ITEMS = """
[[org.tasks]]
key = "k7"
Subject = "K7 Send Globex the revised quote"
ActivityDate = "+2d"

[[mailbox.emails]]
from = "Gus Grant <gus@solo.com>"
to = ["ann@acme.com"]
subject = "E5 Trial feedback"
when = "-1d 13:00"
body = "The trial went well."

[[mailbox.emails]]
from = "Nia New <new@newco.com>"
to = ["ann@acme.com"]
subject = "E14 Introducing Newco"
when = "-1d 15:00"
body = "We are a new company."

[[mailbox.calendar]]
subject = "V21 Globex renewal review"
start = "+1d 10:00"
duration = "1h"
attendees = ["Bob Baker <bob@globex.com>"]
"""


@pytest.fixture(scope="module")
def alternative(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with _story(tmp_path_factory, "alternative", ALTERNATIVE_SETTINGS, ALTERNATIVE_ITEMS) as story:
        box = story.box
        story.step("first")
        [v21] = story.snaps["first"].events_in_org("V21 Globex renewal review")
        box.sf().Event.update(v21["Id"], {"Subject": "V21 Renamed in Salesforce"})
        box.delete_task_in_mailbox("K7 Send Globex the revised quote")
        story.step("edited")
        # After V21's and K7's session: Bob is the attendee of V21's meeting.
        box.google.people.delete_contact(box.contact_resource("Bob Baker"))
        story.step("contact deleted")
        yield story


def test_alternative_sessions_complete(alternative: Story) -> None:
    _completed(alternative)


def test_E5_without_opportunity_linking_gus_is_saved_without_a_business_record(alternative: Story) -> None:
    snap = alternative.snaps["first"]
    [email] = snap.email("E5 Trial feedback")
    assert snap.people(email) == {alternative.key("gus")}
    assert snap.what(email) is None


def test_E14_auto_resolve_lead_creates_nia_new_and_saves_the_email(alternative: Story) -> None:
    snap = alternative.snaps["first"]
    [lead] = snap.rows("Lead", Email="new@newco.com")
    assert (lead["FirstName"], lead["LastName"]) == ("Nia", "New")
    assert "newco" in str(lead["Company"]).lower()
    [email] = snap.email("E14 Introducing Newco")
    assert snap.people(email) == {lead["Id"]}
    assert snap.what(email) is None


def test_V21_mailbox_to_salesforce_reverts_a_salesforce_rename(alternative: Story) -> None:
    after = alternative.snaps["edited"]
    assert after.events_in_org("V21 Renamed in Salesforce") == []
    assert len(after.events_in_org("V21 Globex renewal review")) == 1
    assert after.calendar("V21 Globex renewal review")


def test_C2_scope_all_brings_every_contact_ann_can_read(alternative: Story) -> None:
    assert alternative.snaps["first"].contact_names() == {
        "Bob Baker",
        "Carol Cole",
        "Dave Dunn",
        "Gus Grant",
        "Xena Xu",
    }


def test_K7_task_deleted_in_the_mailbox_is_deleted_in_salesforce(alternative: Story) -> None:
    assert alternative.snaps["first"].rows("Task", Id=alternative.key("k7"))
    assert alternative.snaps["edited"].rows("Task", Id=alternative.key("k7")) == []
    assert "K7 Send Globex the revised quote" not in alternative.snaps["edited"].task_titles()


def test_C5_contact_deleted_in_the_mailbox_is_deleted_in_salesforce(alternative: Story) -> None:
    assert alternative.snaps["edited"].rows("Contact", Id=alternative.key("bob"))
    assert alternative.snaps["contact deleted"].rows("Contact", Id=alternative.key("bob")) == []
    assert "Bob Baker" not in alternative.snaps["contact deleted"].contact_names()


# === resolving: E9, E13, E15 =====================================================================

RESOLVING_SETTINGS: dict[str, dict[str, Any]] = {
    "general.emails": {"auto-resolve": "contact"},
    "blocklist": {"block-free-email-domains": False},
}
RESOLVING_ITEMS = """
[[mailbox.emails]]
from = "Dave Dunn <dave@gmail.com>"
to = ["ann@acme.com"]
subject = "E9 Weekend plans"
when = "-1d 19:30"
body = "Hiking on Saturday?"

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
cc = ["Zed Zane <zed@globex.com>"]
subject = "E13 Meet our new buyer"
when = "-2d 11:00"
body = "Zed joins the buying team."

[[mailbox.emails]]
from = "Pal Pirate <pal@yahoo.com>"
to = ["ann@acme.com"]
subject = "E15 Cheap watches"
when = "-1d 07:00"
body = "Best prices."
"""


@pytest.fixture(scope="module")
def resolving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with _story(tmp_path_factory, "resolving", RESOLVING_SETTINGS, RESOLVING_ITEMS) as story:
        story.step("first")
        yield story


def test_resolving_session_completes(resolving: Story) -> None:
    _completed(resolving)


def test_E9_free_mail_allowed_saves_dave_with_o2(resolving: Story) -> None:
    snap = resolving.snaps["first"]
    [email] = snap.email("E9 Weekend plans")
    assert snap.people(email) == {resolving.key("dave")}
    assert snap.what(email) == resolving.key("o2")
    assert snap.rows("Contact", Email="dave@gmail.com") == snap.rows("Contact", Id=resolving.key("dave"))


def test_E13_auto_resolve_contact_creates_zed_under_globex(resolving: Story) -> None:
    snap = resolving.snaps["first"]
    [zed] = snap.rows("Contact", Email="zed@globex.com")
    assert (zed["FirstName"], zed["LastName"]) == ("Zed", "Zane")
    assert zed["AccountId"] == resolving.key("globex")  # found by the Account's website domain
    assert len(snap.rows("Account")) == 2  # no new Account
    [email] = snap.email("E13 Meet our new buyer")
    assert snap.people(email) == {resolving.key("bob"), zed["Id"]}
    assert snap.what(email) == resolving.key("o2")


def test_E15_free_mail_is_never_auto_resolved(resolving: Story) -> None:
    snap = resolving.snaps["first"]
    assert snap.rows("Contact", Email="pal@yahoo.com") == []
    assert snap.rows("Lead", Email="pal@yahoo.com") == []
    assert snap.email("E15 Cheap watches") == []
    assert skip_reasons(resolving.results["first"], "E15 Cheap watches") == {"no-related-record"}


# === saving more: H1, V4, V9, V11, V13, C3 ========================================================

SAVING_MORE_SETTINGS: dict[str, dict[str, Any]] = {
    "general.emails": {"auto-save-threads": True},
    "general.events": {"save-unanswered": True, "auto-save-appointments": True, "save-private": True},
    "general.contacts": {"scope": "view", "view": "Globex people"},
}
SAVING_MORE_ITEMS = """
[[org.list-views]]
object = "Contact"
label = "Globex people"
developer-name = "Globex_people"
where = "AccountId = '@globex'"

[[mailbox.emails]]
thread = "h1"
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "H1 Globex rollout plan"
message-id = "<h1-first@globex.com>"
labels = ["Salesforce Thread"]
when = "-2d 10:00"
body = "Here is the rollout plan."

[[mailbox.calendar]]
subject = "V4 Globex summer party"
organizer = "Bob Baker <bob@globex.com>"
response = "declined"
start = "+4d 18:00"
duration = "3h"

[[mailbox.calendar]]
subject = "V9 Focus time"
start = "+2d 08:00"
duration = "1h"

[[mailbox.calendar]]
subject = "V11 Farewell planning"
start = "+4d 12:00"
duration = "1h"
private = true
attendees = ["bob@globex.com"]

[[mailbox.calendar]]
subject = "V13 Globex trade fair"
start = "+10d"
duration = "20d"
"""


@pytest.fixture(scope="module")
def saving_more(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with _story(tmp_path_factory, "saving-more", SAVING_MORE_SETTINGS, SAVING_MORE_ITEMS) as story:
        story.step("first")
        story.box.deliver(
            "Re: H1 Globex rollout plan",
            "New Guy <newguy@other.com>",
            in_reply_to="<h1-first@globex.com>",
            thread="h1",
        )
        story.step("later email")
        yield story


def test_saving_more_sessions_complete(saving_more: Story) -> None:
    _completed(saving_more)


def test_H1_tracked_thread_saves_a_later_email_with_the_first_ones_links(saving_more: Story) -> None:
    first_snap, later_snap = saving_more.snaps["first"], saving_more.snaps["later email"]
    [first] = first_snap.email("H1 Globex rollout plan")
    assert first_snap.people(first) == {saving_more.key("bob")}
    assert first_snap.what(first) == saving_more.key("o2")
    [later] = later_snap.email("Re: H1 Globex rollout plan")
    assert later_snap.people(later) == {saving_more.key("bob")}  # newguy resolves to nothing
    assert later_snap.what(later) == saving_more.key("o2")
    assert LABEL_SAVE in later_snap.labels["Re: H1 Globex rollout plan"]


def test_V4_declined_invitation_is_not_saved_even_with_unanswered_ones_saved(saving_more: Story) -> None:
    assert saving_more.snaps["first"].events_in_org("V4 Globex summer party") == []
    assert skip_reasons(saving_more.results["first"], "V4 Globex summer party") == {"declined"}


def test_V9_appointment_is_saved_without_people_when_switched_on(saving_more: Story) -> None:
    snap = saving_more.snaps["first"]
    [event] = snap.events_in_org("V9 Focus time")
    assert snap.people(event) == set() and event["WhatId"] is None


def test_V11_private_meeting_is_saved_private_without_people_or_business_record(saving_more: Story) -> None:
    snap = saving_more.snaps["first"]
    [event] = snap.events_in_org("V11 Farewell planning")
    assert event["IsPrivate"] is True
    assert snap.people(event) == set() and event["WhatId"] is None


def test_V13_all_day_event_of_20_days_is_an_event_too_long_issue(saving_more: Story) -> None:
    assert saving_more.snaps["first"].events_in_org("V13 Globex trade fair") == []
    issues = saving_more.snaps["first"].issues("EVENT-TOO-LONG")
    assert [i.item.subject for i in issues] == ["V13 Globex trade fair"]


def test_C3_scope_view_brings_the_views_contacts(saving_more: Story) -> None:
    assert saving_more.snaps["first"].contact_names() == {"Bob Baker", "Dave Dunn", "Xena Xu"}


# === quiet: E20, E22, S4 =========================================================================

QUIET_SETTINGS: dict[str, dict[str, Any]] = {"general.emails": {"auto-save": False}}
QUIET_ITEMS = """
[[mailbox.emails]]
from = "Zed Zane <zed@nowhere.org>"
to = ["ann@acme.com"]
subject = "E20 Conference booth invoice"
labels = ["Salesforce"]
when = "-2d 14:30"
body = "Invoice for the booth."

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "E22 Globex pricing question"
when = "-1d 09:15"
body = "Could you send the revised price list?"
"""
S4_CONTACTS = 80


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with _story(tmp_path_factory, "quiet", QUIET_SETTINGS, QUIET_ITEMS) as story:
        box = story.box
        bulk = [
            box.org.insert(
                "Contact",
                {
                    "FirstName": "Buyer",
                    "LastName": f"S4-{n:02d}",
                    "Email": f"buyer{n:02d}@globex.com",
                    "AccountId": box.keys["globex"],
                    "OwnerId": box.user_id,
                },
            )
            for n in range(S4_CONTACTS)
        ]
        story.step("first")
        for contact_id in bulk:  # say, a data clean-up in Salesforce
            box.org.delete(contact_id)
        story.step("guarded")
        story.step("allowed", allow_mass_delete=True)
        yield story


def test_quiet_sessions_complete(quiet: Story) -> None:
    _completed(quiet)


def test_E20_labelled_email_is_saved_by_hand_without_links_or_new_records(quiet: Story) -> None:
    snap = quiet.snaps["first"]
    [email] = snap.email("E20 Conference booth invoice")
    assert snap.people(email) == set() and snap.what(email) is None
    assert snap.rows("Contact", Email="zed@nowhere.org") == []
    assert snap.rows("Lead", Email="zed@nowhere.org") == []


def test_E22_with_auto_save_off_an_email_from_bob_is_not_saved(quiet: Story) -> None:
    assert quiet.snaps["first"].email("E22 Globex pricing question") == []
    assert skip_reasons(quiet.results["first"], "E22 Globex pricing question") == {"auto-save-off"}


def test_S4_mass_deletion_is_held_back_until_allowed(quiet: Story) -> None:
    bulk = {f"Buyer S4-{n:02d}" for n in range(S4_CONTACTS)}
    synced, guarded, allowed = (quiet.snaps[name] for name in ("first", "guarded", "allowed"))
    assert bulk <= synced.contact_names()
    assert quiet.results["guarded"].streams[Stream.CONTACTS].status == "guarded"
    assert bulk <= guarded.contact_names()  # the mailbox contacts are still there
    [issue] = guarded.issues("MASS-DELETE-GUARD")
    assert f"{S4_CONTACTS} contacts in the mailbox" in issue.message
    assert not bulk & allowed.contact_names()  # `--allow-mass-delete` proceeds
    assert allowed.contact_names() == {"Bob Baker", "Dave Dunn", "Gus Grant"}


# === switching off: E21, V16, K9, C7 =============================================================

SWITCHING_OFF_SETTINGS: dict[str, dict[str, Any]] = {
    "general.emails": {"direction": "outbound"},
    "general.tasks": {"sync-salesforce-tasks": True},
}
SWITCHING_OFF_ITEMS = """
[[org.events]]
key = "v16"
Subject = "V16 QBR prep"
StartDateTime = "+1d 14:00"
EndDateTime = "+1d 15:00"

[[org.tasks]]
key = "k9"
Subject = "K9 Send Globex the revised quote"
ActivityDate = "+2d"

[[mailbox.emails]]
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "E21 Globex pricing question"
when = "-1d 09:15"
body = "Could you send the revised price list?"

[[mailbox.emails]]
from = "Ann Lee <ann@acme.com>"
to = ["Bob Baker <bob@globex.com>"]
subject = "E21 Price list for Globex"
when = "-1d 11:40"
body = "Hi Bob, the price list is attached."

[[mailbox.calendar]]
subject = "V16 Globex renewal review"
start = "+1d 10:00"
duration = "1h"
attendees = ["Bob Baker <bob@globex.com>"]

[[mailbox.contacts]]
first-name = "Maria"
last-name = "Lee"
emails = ["maria.lee@example.net"]
"""


@pytest.fixture(scope="module")
def switching_off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with _story(tmp_path_factory, "switching-off", SWITCHING_OFF_SETTINGS, SWITCHING_OFF_ITEMS) as story:
        story.step("on")
        for key in ("sync-salesforce-calendar", "sync-salesforce-tasks", "sync-salesforce-contacts"):
            story.box.set(key, "off")
        story.step("off")
        yield story


def test_switching_off_sessions_complete(switching_off: Story) -> None:
    _completed(switching_off)


def test_E21_outbound_only_leaves_inbox_email_alone(switching_off: Story) -> None:
    snap = switching_off.snaps["on"]
    assert snap.email("E21 Globex pricing question") == []
    assert skip_reasons(switching_off.results["on"], "E21 Globex pricing question") == {"direction"}
    assert len(snap.email("E21 Price list for Globex")) == 1  # Sent mail is still saved


def test_V16_calendar_switched_off_removes_the_copy_and_keeps_the_event(switching_off: Story) -> None:
    on, off = switching_off.snaps["on"], switching_off.snaps["off"]
    assert on.calendar("V16 QBR prep")
    assert off.calendar("V16 QBR prep") == []
    assert off.rows("Event", Id=switching_off.key("v16"))
    assert off.calendar("V16 Globex renewal review")  # Ann's own meeting stays
    assert len(off.events_in_org("V16 Globex renewal review")) == 1


def test_K9_tasks_switched_off_removes_the_copy_and_keeps_the_task(switching_off: Story) -> None:
    on, off = switching_off.snaps["on"], switching_off.snaps["off"]
    assert "K9 Send Globex the revised quote" in on.task_titles()
    assert "K9 Send Globex the revised quote" not in off.task_titles()
    assert off.rows("Task", Id=switching_off.key("k9"))


def test_C7_contacts_switched_off_removes_every_salesforce_contact(switching_off: Story) -> None:
    on, off = switching_off.snaps["on"], switching_off.snaps["off"]
    assert on.contact_names() == {"Bob Baker", "Dave Dunn", "Gus Grant"}
    assert off.contact_names() == set()
    assert on.rows("Contact") == off.rows("Contact")  # Salesforce unchanged
    personal = [p for p in switching_off.box.google.people.people.values() if not p.deleted]
    assert [p.resource["names"][0].get("givenName") for p in personal] == ["Maria"]
