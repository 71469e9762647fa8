"""Salesforce calls per user per day, and how many users fit in an org's daily allocation (SPEC §10, §11).

Run: `python benchmarks/org_budget.py [--sessions 48] [--allocation 100000] [--floor 10]`.

Two reps of the team sandbox (the real session code, simple-salesforce and the Gmail client
against the emulators): after each rep's first session (the set-up a new user costs once), a day
of sessions at a 30-minute cadence (48) runs for

* an **idle** rep: nothing new on either side;
* a **busy** rep: 50 customer emails and 5 customer meetings arrive over the day, spread evenly
  over the sessions.

The Salesforce calls are what the emulated org charges to its daily allocation (every REST call,
as Sforce-Limit-Info counts them). A fixed 30-minute cadence is the worst case: the adaptive
interval (SPEC §7.2) runs an idle user less often. The fleet adds, for the whole org, one read of
the `limits` resource per recheck period (96 a day at the default 15 minutes), and each user's
Id and org capabilities are read again once a day (one Composite call, counted below).

Not part of the test suite: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("RGSYNC_KEYRING", "file")
for _name in ("RGSYNC_STATE_DIR", "RGSYNC_PROFILE", "RGSYNC_CONFIG", "RGSYNC_ORG_POLICY", "RGSYNC_STATE_URL"):
    os.environ.pop(_name, None)

from rgsync.demo.team import TeamMember, TeamSandbox, start_team_sandbox  # noqa: E402
from rgsync.session import RunOptions  # noqa: E402
from rgsync.sync import run_session  # noqa: E402

EMAILS_A_DAY = 50
MEETINGS_A_DAY = 5
FLEET_READS_A_DAY = 96  # `limits` once per 15 minutes, for the whole fleet
ORG_INFO_A_DAY = 1  # the user's Id and the org's capabilities, refreshed daily (SPEC §10)


def _mailbox(team: TeamSandbox, member: TeamMember) -> Any:
    return team.mailbox_server.emulator.inner.tenants[member.name].state


def _email(team: TeamSandbox, member: TeamMember, rep: int, n: int, when: datetime) -> None:
    raw = (
        f"From: Bea Buyer <bea@cust{rep}.com>\r\n"
        f"To: {member.address}\r\n"
        f"Subject: Question {n} from Customer {rep}\r\n"
        f"Message-ID: <q{n}-{rep}@cust{rep}.com>\r\n"
        f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Could you call me back?\r\n"
    )
    _mailbox(team, member).add_message(raw, ["INBOX"], internal_date=when)


def _meeting(team: TeamSandbox, member: TeamMember, rep: int, n: int, when: datetime) -> None:
    start = (when + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    _mailbox(team, member).add_event(
        {
            "summary": f"Customer {rep} call {n}",
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"},
            "organizer": {"email": member.address, "self": True},
            "attendees": [
                {"email": member.address, "self": True, "responseStatus": "accepted"},
                {"email": f"bea@cust{rep}.com", "responseStatus": "accepted"},
            ],
        }
    )


def _spread(total: int, sessions: int, index: int) -> int:
    """How many of `total` items arrive before session `index` when spread evenly over `sessions`."""
    return (index + 1) * total // sessions - index * total // sessions


def measure_day(sessions: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="rgsync-org-budget-") as scratch,
        start_team_sandbox(Path(scratch) / "team", users=2) as team,
    ):
        org = team.salesforce.org
        idle, busy = team.members
        first: dict[str, int] = {}
        for member in (idle, busy):
            before = org.api_used
            assert run_session(member.paths, RunOptions(force=True)).status == "completed"
            first[member.name] = org.api_used - before
        day = {idle.name: 0, busy.name: 0}
        now = datetime.now(UTC)
        emails = meetings = 0
        for index in range(sessions):
            for _ in range(_spread(EMAILS_A_DAY, sessions, index)):
                emails += 1
                _email(team, busy, 2, emails, now - timedelta(minutes=5))
            for _ in range(_spread(MEETINGS_A_DAY, sessions, index)):
                meetings += 1
                _meeting(team, busy, 2, meetings, now)
            for member in (idle, busy):
                before = org.api_used
                result = run_session(member.paths, RunOptions(force=True))
                assert result.status == "completed", result.message
                day[member.name] += org.api_used - before
        emails_saved = sum(
            1
            for kind in ("EmailMessage", "Task")
            for record in org.records(kind)
            if str(record.get("Subject", "")).startswith("Question")
        )
        meetings_saved = sum(1 for e in org.records("Event") if " call " in str(e.get("Subject")))
        return {
            "sessions_a_day": sessions,
            "first_session": first,
            "idle": day[idle.name] + ORG_INFO_A_DAY,
            "busy": day[busy.name] + ORG_INFO_A_DAY,
            "busy_emails_saved": emails_saved,
            "busy_meetings_saved": meetings_saved,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=48, help="sessions a day (48 = every 30 minutes)")
    parser.add_argument("--allocation", type=int, default=100_000, help="the org's daily API allocation")
    parser.add_argument("--floor", type=float, default=10.0, help="min-api-remaining, percent")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure_day(args.sessions)
    spendable = int(args.allocation * (1 - args.floor / 100)) - FLEET_READS_A_DAY
    figures["allocation"] = args.allocation
    figures["floor_percent"] = args.floor
    figures["spendable_by_the_fleet"] = spendable
    figures["users_that_fit"] = {
        "all_idle": spendable // max(1, figures["idle"]),
        "all_busy": spendable // max(1, figures["busy"]),
        "all_idle_whole_allocation": (args.allocation - FLEET_READS_A_DAY) // max(1, figures["idle"]),
        "all_busy_whole_allocation": (args.allocation - FLEET_READS_A_DAY) // max(1, figures["busy"]),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    fit = figures["users_that_fit"]
    print(f"sessions a day: {args.sessions} (every {24 * 60 // args.sessions} minutes)")
    print(f"first session (once per user): {figures['first_session']}")
    print(f"idle user: {figures['idle']} Salesforce calls a day")
    print(
        f"busy user ({EMAILS_A_DAY} emails + {MEETINGS_A_DAY} meetings a day; saved "
        f"{figures['busy_emails_saved']} + {figures['busy_meetings_saved']}): {figures['busy']} calls a day"
    )
    print(
        f"{args.allocation:,}-call allocation, {args.floor:g}% floor, {FLEET_READS_A_DAY} fleet reads: "
        f"{spendable:,} calls for sessions -> {fit['all_idle']:,} idle users or {fit['all_busy']:,} busy users "
        f"({fit['all_idle_whole_allocation']:,} / {fit['all_busy_whole_allocation']:,} with no floor)"
    )


if __name__ == "__main__":
    main()
