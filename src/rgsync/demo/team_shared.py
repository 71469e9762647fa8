"""Meetings and emails colleagues share, in the team sandbox (one org, many mailboxes).

A customer meeting several reps attend is in each of their calendars under the same iCalendar UID;
an email sent to several reps is in each of their mailboxes under the same Message-ID. A fleet
saves each once (one Event with every attending rep related, one EmailMessage with a relation for
every rep who received it); this module puts such items into the sandbox's mailboxes:

* `add_shared_meeting(team, members, …)` — one meeting with one rep's customer contact, accepted
  by every rep of `members` (the first organizes it);
* `add_shared_email(team, members, …)` — one customer email to every rep of `members`;
* `add_colleague_items(team, group=3)` — what `rgsync sandbox serve --users N --shared-items` adds:
  the reps in groups of `group`, each group with one shared meeting and one shared email from the
  first rep's customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

GROUP = 3


def _state(team: Any, name: str) -> Any:
    """The emulated mailbox of roster name `name`."""
    return team.mailbox_server.emulator.inner.tenants[name].state


def add_shared_meeting(
    team: Any,
    members: Sequence[Any],
    *,
    uid: str,
    subject: str,
    start: datetime,
    customer: str,
    minutes: int = 30,
) -> list[str]:
    """Put one meeting into every member's calendar (same UID); returns their event ids.

    `customer` is the external attendee's address (a Contact of the org, so the meeting links).
    Every member has accepted; the first member is the organizer.
    """
    organizer = members[0].address
    attendees = [{"email": m.address, "responseStatus": "accepted"} for m in members]
    attendees.append({"email": customer, "responseStatus": "accepted"})
    end = start + timedelta(minutes=minutes)
    ids: list[str] = []
    for member in members:
        event = {
            "summary": subject,
            "iCalUID": uid,
            "start": {"dateTime": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
            "end": {"dateTime": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
            "organizer": {"email": organizer},
            "attendees": [dict(a, self=True) if a["email"] == member.address else a for a in attendees],
        }
        ids.append(_state(team, member.name).add_event(event))
    return ids


def add_shared_email(
    team: Any,
    members: Sequence[Any],
    *,
    message_id: str,
    subject: str,
    sender: str,
    when: datetime,
    body: str = "Let us meet about the renewal.",
) -> list[str]:
    """Put one email from `sender` to every member into each member's Inbox (same Message-ID)."""
    raw = (
        f"From: {sender}\r\n"
        f"To: {members[0].address}\r\n"
        + (f"Cc: {', '.join(m.address for m in members[1:])}\r\n" if len(members) > 1 else "")
        + f"Subject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n"
        f"Date: {format_datetime(when.astimezone(UTC))}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    )
    return [_state(team, m.name).add_message(raw, ["INBOX"], internal_date=when) for m in members]


def add_colleague_items(team: Any, group: int = GROUP, *, now: datetime | None = None) -> int:
    """The reps in groups of `group`: one shared meeting and one shared email per group of two or
    more (from the first rep's customer); returns how many groups got them."""
    moment = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    groups = 0
    for first in range(0, len(team.members), group):
        members = team.members[first : first + group]
        if len(members) < 2:
            break
        number = first + 1  # the first rep's number: their customer's contacts are in the org
        add_shared_meeting(
            team,
            members,
            uid=f"kickoff-{number}@cust{number}.com",
            subject=f"Customer {number} kick-off",
            start=moment + timedelta(days=2, hours=3),
            customer=f"bea@cust{number}.com",
        )
        add_shared_email(
            team,
            members,
            message_id=f"<kickoff-{number}@cust{number}.com>",
            subject=f"Kick-off with Customer {number}",
            sender=f"Bea Buyer <bea@cust{number}.com>",
            when=moment - timedelta(hours=5),
        )
        groups += 1
    return groups
