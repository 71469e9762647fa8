"""Settings that change what a session does, end to end on every mailbox kind: the real mailbox
adapter (Gmail, Exchange, Microsoft 365) and the real Salesforce adapter against the emulators.

Two small worlds per kind, each with settings that can live together:

* `resolving`: auto-resolve contact (SPEC §3.4: a Contact under the Account whose Website has the
  address's domain, else under a new Account named after the domain), the org blocklist of an org
  policy file (SPEC §1, §3.2), auto-save-appointments on (§4.2), calendar-direction
  salesforce-to-mailbox (§4.6), tasks-forbid-remove and contacts-forbid-remove on (§5, §6.2),
  contacts-scope all (§6.1).
* `leads`: auto-resolve lead (§3.4), calendar-direction mailbox-to-salesforce (§4.6),
  tasks-forbid-remove and contacts-forbid-remove off (§5, §6.2), contacts-scope view (§6.1).

calendar-direction two-way (the mailbox wins a conflict, §4.4) is checked in
test_linking_sandbox.py's world.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rgsync.session import RunOptions, SessionResult
from rgsync.sync import run_session
from tests.system.mailbox_kinds import KINDS, Hands, open_kind_box
from tests.system.rule_cases_sandbox import Box, scenario_text

RESOLVING_SETTINGS: dict[str, dict[str, Any]] = {
    "general.emails": {"auto-resolve": "contact", "save-as": "task"},
    "general.events": {"auto-save-appointments": True, "direction": "salesforce-to-mailbox"},
    "general.tasks": {"sync-salesforce-tasks": True, "forbid-remove": True},
    "general.contacts": {"scope": "all", "forbid-remove": True},
}
RESOLVING_ITEMS = """
[[org.contacts]]
key = "rita"
FirstName = "Rita"
LastName = "Rival"
Email = "rita@rival.com"
AccountId = "@globex"

[[org.tasks]]
key = "sow"
Subject = "Prepare the Globex SoW"
ActivityDate = "+2d"

[[mailbox.emails]]
from = "Zed Zane <zed@globex.com>"
to = ["ann@acme.com"]
subject = "Hello from Zed at Globex"
when = "-1d 09:00"
body = "I joined Globex last week."

[[mailbox.emails]]
from = "Nora North <nora@northwind.io>"
to = ["ann@acme.com"]
subject = "Northwind would like a demo"
when = "-1d 10:00"
body = "Can we see the product?"

[[mailbox.emails]]
from = "Rita Rival <rita@rival.com>"
to = ["ann@acme.com"]
subject = "Rival pricing sheet"
when = "-1d 11:00"
body = "Our prices."

[[mailbox.calendar]]
subject = "Focus time for the Globex proposal"
start = "+1d 08:00"
duration = "2h"

[[mailbox.calendar]]
subject = "Rival catch-up"
start = "+1d 13:00"
duration = "30m"
attendees = ["Rita Rival <rita@rival.com>"]

[[mailbox.calendar]]
subject = "Globex roadmap"
start = "+2d 15:00"
duration = "1h"
attendees = ["Bob Baker <bob@globex.com>"]
"""
ORG_POLICY = """
[blocklist]
domains = ["rival.com"]
"""

LEADS_SETTINGS: dict[str, dict[str, Any]] = {
    "general.emails": {"auto-resolve": "lead", "save-as": "task"},
    "general.events": {"direction": "mailbox-to-salesforce"},
    "general.tasks": {"sync-salesforce-tasks": True, "forbid-remove": False},
    "general.contacts": {"scope": "view", "view": "Globex people", "forbid-remove": False},
}
LEADS_ITEMS = """
[[org.list-views]]
object = "Contact"
label = "Globex people"
developer-name = "Globex_people"
where = "AccountId = '@globex'"

[[org.tasks]]
key = "nda"
Subject = "Draft the Globex NDA"
ActivityDate = "+3d"

[[mailbox.emails]]
from = "Lena Lark <lena@larkworks.com>"
to = ["ann@acme.com"]
subject = "Larkworks introduction"
when = "-1d 09:30"
body = "We build birdhouses."

[[mailbox.calendar]]
subject = "Globex quarterly"
start = "+2d 11:00"
duration = "1h"
attendees = ["Bob Baker <bob@globex.com>"]
"""


def _run(box: Box, policy: Path | None = None) -> SessionResult:
    paths = (
        box.sandbox.paths
        if policy is None
        else dataclasses.replace(box.sandbox.paths, org_policy_file=policy)
    )
    result = run_session(paths, RunOptions(force=True))
    assert result.status == "completed", result.message
    return result


def _look(hands: Hands) -> dict[str, Any]:
    return {"tasks": set(hands.tasks()), "contacts": set(hands.contacts()), "calendar": set(hands.calendar())}


@pytest.fixture(scope="module", params=KINDS)
def resolving(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    kind = str(request.param)
    directory = tmp_path_factory.mktemp(f"resolving-{kind}")
    policy = directory / "org-policy.toml"
    policy.write_text(ORG_POLICY, encoding="utf-8")
    text = scenario_text(f"resolving-{kind}", settings=RESOLVING_SETTINGS, items=RESOLVING_ITEMS)
    with open_kind_box(directory / "sandbox", text, kind) as (box, hands):
        seen: dict[str, Any] = {"box": box}
        seen["first result"] = _run(box, policy)
        seen["first"] = _look(hands)
        hands.delete_task("Prepare the Globex SoW")
        hands.delete_contact("Carol Cole")
        hands.rename_meeting("Globex roadmap", "Globex roadmap (renamed in the mailbox)")
        _run(box, policy)
        seen["edited"] = _look(hands)
        _run(box, policy)
        seen["again"] = _look(hands)
        yield seen


def _task_email(box: Box, subject: str) -> list[dict[str, Any]]:
    return [t for t in box.org.records("Task") if t["Subject"] == f"Email: {subject}"]


def test_spec_3_4_auto_resolve_contact_creates_zed_under_globex_by_its_website_domain(
    resolving: dict[str, Any],
) -> None:
    box: Box = resolving["box"]
    [zed] = [c for c in box.org.records("Contact") if c.get("Email") == "zed@globex.com"]
    assert (zed["FirstName"], zed["LastName"], zed["AccountId"]) == ("Zed", "Zane", box.keys["globex"])
    [email] = _task_email(box, "Hello from Zed at Globex")
    assert email["WhoId"] == zed["Id"]
    assert email["WhatId"] == box.keys["o2"]  # Ann's newest Globex Opportunity


def test_spec_3_4_auto_resolve_contact_makes_an_account_named_after_an_unknown_domain(
    resolving: dict[str, Any],
) -> None:
    box: Box = resolving["box"]
    [nora] = [c for c in box.org.records("Contact") if c.get("Email") == "nora@northwind.io"]
    [account] = [a for a in box.org.records("Account") if a["Id"] == nora["AccountId"]]
    assert "northwind" in str(account["Name"]).lower()
    [email] = _task_email(box, "Northwind would like a demo")
    assert (email["WhoId"], email["WhatId"]) == (nora["Id"], account["Id"])


def test_spec_1_the_org_blocklist_keeps_a_known_contact_out_of_a_run(resolving: dict[str, Any]) -> None:
    """SPEC §1, §3.2, §4.2: the org policy's blocklisted domain: neither the email nor the meeting
    with Rita is saved, although she is a Contact, and nothing is created for her domain."""
    box: Box = resolving["box"]
    assert _task_email(box, "Rival pricing sheet") == []
    assert [e for e in box.org.records("Event") if e["Subject"] == "Rival catch-up"] == []
    assert [c["Id"] for c in box.org.records("Contact") if c.get("Email") == "rita@rival.com"] == [
        box.keys["rita"]
    ]
    reasons = {s.reason.value for s in resolving["first result"].skips if s.subject.startswith("Rival")}
    assert reasons == {"blocklisted"}


def test_spec_4_2_auto_save_appointments_saves_an_appointment_without_people(
    resolving: dict[str, Any],
) -> None:
    box: Box = resolving["box"]
    [event] = [e for e in box.org.records("Event") if e["Subject"] == "Focus time for the Globex proposal"]
    assert not event.get("WhoId") and not event.get("WhatId")


def test_spec_4_6_salesforce_to_mailbox_reverts_a_mailbox_rename(resolving: dict[str, Any]) -> None:
    box: Box = resolving["box"]
    assert "Globex roadmap" in resolving["edited"]["calendar"]
    assert "Globex roadmap (renamed in the mailbox)" not in resolving["again"]["calendar"]
    assert [
        e["Subject"] for e in box.org.records("Event") if str(e["Subject"]).startswith("Globex roadmap")
    ] == ["Globex roadmap"]


def test_spec_5_tasks_forbid_remove_on_brings_a_deleted_task_back(resolving: dict[str, Any]) -> None:
    box: Box = resolving["box"]
    assert "Prepare the Globex SoW" in resolving["first"]["tasks"]
    assert "Prepare the Globex SoW" in resolving["edited"]["tasks"]
    assert any(t["Id"] == box.keys["sow"] for t in box.org.records("Task"))


def test_spec_6_contacts_scope_all_and_forbid_remove_on(resolving: dict[str, Any]) -> None:
    """SPEC §6.1: every Contact Ann can read, Frank's too; §6.2: a deleted one comes back."""
    box: Box = resolving["box"]
    assert {"Bob Baker", "Carol Cole", "Dave Dunn", "Gus Grant", "Xena Xu"} <= resolving["first"]["contacts"]
    assert "Carol Cole" in resolving["edited"]["contacts"]
    assert any(c["Id"] == box.keys["carol"] for c in box.org.records("Contact"))
    assert resolving["again"]["contacts"] == resolving["edited"]["contacts"]


@pytest.fixture(scope="module", params=KINDS)
def leads(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    kind = str(request.param)
    text = scenario_text(f"leads-{kind}", settings=LEADS_SETTINGS, items=LEADS_ITEMS)
    with open_kind_box(tmp_path_factory.mktemp(f"leads-{kind}") / "sandbox", text, kind) as (box, hands):
        seen: dict[str, Any] = {"box": box}
        _run(box)
        seen["first"] = _look(hands)
        hands.delete_task("Draft the Globex NDA")
        hands.delete_contact("Dave Dunn")
        [quarterly] = [e for e in box.org.records("Event") if e["Subject"] == "Globex quarterly"]
        box.sf().Event.update(quarterly["Id"], {"Subject": "Globex quarterly (renamed in Salesforce)"})
        seen["quarterly"] = quarterly["Id"]
        _run(box)
        seen["edited"] = _look(hands)
        _run(box)
        seen["again"] = _look(hands)
        yield seen


def test_spec_3_4_auto_resolve_lead_creates_a_lead_with_the_company_of_the_domain(
    leads: dict[str, Any],
) -> None:
    box: Box = leads["box"]
    [lena] = [lead for lead in box.org.records("Lead") if lead.get("Email") == "lena@larkworks.com"]
    assert (lena["FirstName"], lena["LastName"]) == ("Lena", "Lark")
    assert "larkworks" in str(lena["Company"]).lower()
    [email] = _task_email(box, "Larkworks introduction")
    assert email["WhoId"] == lena["Id"] and not email.get("WhatId")


def test_spec_4_6_mailbox_to_salesforce_reverts_a_salesforce_rename(leads: dict[str, Any]) -> None:
    box: Box = leads["box"]
    [event] = [e for e in box.org.records("Event") if e["Id"] == leads["quarterly"]]
    assert event["Subject"] == "Globex quarterly"
    assert "Globex quarterly" in leads["again"]["calendar"]


def test_spec_5_tasks_forbid_remove_off_deletes_the_task_in_salesforce(leads: dict[str, Any]) -> None:
    box: Box = leads["box"]
    assert "Draft the Globex NDA" in leads["first"]["tasks"]
    assert "Draft the Globex NDA" not in leads["again"]["tasks"]
    assert not any(t["Id"] == box.keys["nda"] for t in box.org.records("Task"))


def test_spec_6_contacts_scope_view_and_forbid_remove_off(leads: dict[str, Any]) -> None:
    """SPEC §6.1: the list view's Contacts only; §6.2: deleted in the mailbox → deleted in Salesforce."""
    box: Box = leads["box"]
    assert leads["first"]["contacts"] == {"Bob Baker", "Dave Dunn", "Xena Xu"}
    assert leads["again"]["contacts"] == {"Bob Baker", "Xena Xu"}
    assert not any(c["Id"] == box.keys["dave"] for c in box.org.records("Contact"))
