"""The world the kill tests sync: the demo scenario grown to hundreds of emails, with more people,
recurring meetings, and Salesforce Events, Tasks and Contacts that come down into the mailbox.

Everything is generated from a size and the moment the scenario is loaded, so the reference run and
every interrupted run start from identical data on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rgsync.sandbox.scenario import Scenario, parse_scenario

DEMO = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "demo.toml"

# Colleagues-to-be of Bob and Carol: Contacts of Ann's, at the demo's two accounts.
_ACCOUNTS = ("globex", "initech")
_DOMAINS = {"globex": "globex.com", "initech": "initech.com"}


@dataclass(frozen=True)
class WorldSize:
    """How big the generated part of the world is."""

    emails: int
    contacts: int
    meetings: int
    salesforce_events: int
    salesforce_tasks: int
    mailbox_tasks: int

    @property
    def label(self) -> str:
        return f"{self.emails} emails"


# The CI world stays small enough for a kill point to take well under a second; the full world is
# the one the benchmark uses by default.
CI_WORLD = WorldSize(
    emails=60, contacts=8, meetings=3, salesforce_events=4, salesforce_tasks=4, mailbox_tasks=2
)
FULL_WORLD = WorldSize(
    emails=320, contacts=30, meetings=8, salesforce_events=12, salesforce_tasks=12, mailbox_tasks=6
)


def _person(n: int) -> tuple[str, str, str, str]:
    """The n-th generated Contact: key, first name, last name, address."""
    account = _ACCOUNTS[n % 2]
    first, last = f"Pat{n:02d}", f"Buyer{n:02d}"
    return f"p{n}", first, last, f"pat{n:02d}@{_DOMAINS[account]}"


def world_toml(size: WorldSize, *, enhanced_email: bool) -> str:
    """The scenario as TOML: the demo file with its save mode set, plus the generated records."""
    text = DEMO.read_text(encoding="utf-8")
    wanted = "true" if enhanced_email else "false"
    text = text.replace("enhanced-email = true", f"enhanced-email = {wanted}", 1)
    lines: list[str] = [""]
    people: list[tuple[str, str]] = [("Bob Baker", "bob@globex.com"), ("Carol Cole", "carol@initech.com")]
    for n in range(size.contacts):
        key, first, last, address = _person(n)
        account = _ACCOUNTS[n % 2]
        people.append((f"{first} {last}", address))
        lines += [
            "[[org.contacts]]",
            f'key = "{key}"',
            f'FirstName = "{first}"',
            f'LastName = "{last}"',
            f'Email = "{address}"',
            f'AccountId = "@{account}"',
            # Initech is Frank's account, but these Contacts are Ann's: they come down to her mailbox.
            "",
        ]
    for n in range(size.salesforce_events):
        who = "@bob" if n % 2 == 0 else f"@p{n % max(size.contacts, 1)}" if size.contacts else "@bob"
        lines += [
            "[[org.events]]",
            f'Subject = "Salesforce planning {n:02d}"',
            f'StartDateTime = "+{1 + n % 9}d {8 + n % 8:02d}:30"',
            f'EndDateTime = "+{1 + n % 9}d {9 + n % 8:02d}:00"',
            f'WhoId = "{who}"',
            "",
        ]
    for n in range(size.salesforce_tasks):
        lines += [
            "[[org.tasks]]",
            f'Subject = "Follow up {n:02d} with Globex"',
            f'ActivityDate = "+{1 + n % 12}d"',
            'WhoId = "@bob"',
            'WhatId = "@o2"',
            "",
        ]
    for n in range(size.emails):
        name, address = people[n % len(people)]
        cc_name, cc_address = people[(n * 7 + 3) % len(people)]
        day, hour, minute = 1 + n % 5, 8 + n % 10, (n * 13) % 60
        lines += [
            "[[mailbox.emails]]",
            f'key = "kt-{n}"',
            f'from = "{name} <{address}>"',
            'to = ["Ann Lee <ann@acme.com>"]',
        ]
        if n % 3 == 0 and cc_address != address:
            lines.append(f'cc = ["{cc_name} <{cc_address}>"]')
        lines += [
            f'subject = "Order question {n:03d}"',
            f'when = "-{day}d {hour:02d}:{minute:02d}"',
            f'message-id = "<kt-{n}@{address.partition("@")[2]}>"',
            f'body = "Question number {n}."',
            "",
        ]
    for n in range(size.meetings):
        _, address = people[(n + 1) % len(people)]
        lines += [
            "[[mailbox.calendar]]",
            f'key = "kt-meeting-{n}"',
            f'subject = "Weekly sync {n:02d}"',
            f'start = "+{1 + n % 6}d {13 + n % 4:02d}:00"',
            'duration = "30m"',
            f'attendees = ["{address}"]',
            f'recurrence = ["RRULE:FREQ=WEEKLY;COUNT={2 + n % 3}"]',
            "",
        ]
    for n in range(size.mailbox_tasks):
        lines += [
            "[[mailbox.tasks]]",
            f'key = "kt-task-{n}"',
            'list = "Salesforce Tasks"',
            f'title = "Prepare offer {n:02d}"',
            f'due = "+{2 + n}d"',
            "",
        ]
    return text + "\n".join(lines)


def build_world(size: WorldSize, *, enhanced_email: bool, now: datetime) -> Scenario:
    """The checked scenario for `size` and save mode, every relative time taken from `now`."""
    return parse_scenario(world_toml(size, enhanced_email=enhanced_email), DEMO, now=now)
