"""Calendar rules shared by the planner: the window, participants, limits and lookups (SPEC §4.1, §4.7)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rgsync.engine.blocklist import normalise_address, split_participants
from rgsync.engine.types import (
    CalendarDirection,
    StreamContext,
)
from rgsync.model import (
    Address,
    CalendarItem,
    Response,
    Side,
    Stream,
    meeting_key,
)

# Issue codes of SPEC §4.7.
EVENT_TOO_LONG = "EVENT-TOO-LONG"
TZ_UNMAPPED = "TZ-UNMAPPED"
TOO_MANY_PEOPLE = "TOO-MANY-PEOPLE"

MAX_ALL_DAY_DAYS = 14
MAX_SALESFORCE_EVENT = timedelta(hours=24)
# Salesforce refuses any Event (all-day or not) longer than 14 days.
MAX_EVENT = timedelta(days=14)
MAX_PEOPLE = 50

# Bookkeeping keys of the link base, next to EVENT_FIELDS.
BASE_ATTENDEES = "attendees"  # the mailbox item's other participants, sorted, comma-separated
BASE_WHO_IDS = "who_ids"  # the Event's WhoIds, sorted, comma-separated
BASE_WHAT_ID = "what_id"
BASE_PRIVATE = "private"  # saved as private: no people, no business record
BASE_INVITEE = "invitee"  # linked to a colleague's Event the user was added to

STREAM = Stream.EVENTS
ACCEPTED_RESPONSES = frozenset({Response.ORGANIZER, Response.ACCEPTED, Response.TENTATIVE})


@dataclass(frozen=True)
class EventNeeds:
    """What the session must look up in the org before `plan_events` can run.

    `addresses`: external attendee addresses to resolve to people records (Directory.people).
    `meeting_keys`: `model.meeting_key` keys of meetings that may already be saved by a colleague
    (Directory.existing_events).
    """

    addresses: frozenset[str]
    meeting_keys: frozenset[str]


def sync_window(ctx: StreamContext) -> tuple[datetime, datetime]:
    """The calendar window: now − calendar-past-days … now + calendar-future-days (SPEC §4.1)."""
    rules = ctx.rules
    return ctx.now - timedelta(days=rules.calendar_past_days), ctx.now + timedelta(
        days=rules.calendar_future_days
    )


def in_window(start: datetime, ctx: StreamContext) -> bool:
    """True when an item starting at `start` is inside the calendar window."""
    first, last = sync_window(ctx)
    return first <= start <= last


def _own_addresses(ctx: StreamContext) -> frozenset[str]:
    identity = ctx.identity
    return frozenset(a for a in (normalise_address(x) for x in (identity.address, *identity.aliases)) if a)


def other_participants(item: CalendarItem, ctx: StreamContext) -> tuple[Address, ...]:
    """The organizer and attendees other than the user, each once: a meeting has some (SPEC §4.1)."""
    own = _own_addresses(ctx)
    seen: set[str] = set()
    others: list[Address] = []
    candidates = ((item.organizer,) if item.organizer else ()) + tuple(a.address for a in item.attendees)
    for address in candidates:
        email = normalise_address(address.email)
        if email and email not in own and email not in seen:
            seen.add(email)
            others.append(Address(email, address.name))
    return tuple(others)


def attendee_key(item: CalendarItem, ctx: StreamContext) -> str:
    """The other participants' addresses as the link base stores them (sorted, comma-separated)."""
    return ",".join(sorted(a.email for a in other_participants(item, ctx)))


def split_ids(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(",") if v)


def join_ids(values: Iterable[str]) -> str:
    return ",".join(sorted(set(values)))


def authority(ctx: StreamContext) -> Side | None:
    direction = ctx.rules.calendar_direction
    if direction is CalendarDirection.MAILBOX_TO_SALESFORCE:
        return Side.MAILBOX
    if direction is CalendarDirection.SALESFORCE_TO_MAILBOX:
        return Side.SALESFORCE
    return None


def event_lookups(items: Sequence[CalendarItem], ctx: StreamContext) -> EventNeeds:
    """The lookups `plan_events` needs for these mailbox items (SPEC §4.2).

    Addresses: every external, non-blocklisted participant of new items, and of linked items whose
    attendees changed since the last sync (to follow the change). Meeting keys: unlinked meetings
    inside the window that may have been saved already by a colleague.
    """
    addresses: set[str] = set()
    keys: set[str] = set()
    for item in items:
        others = other_participants(item, ctx)
        if not others:
            continue
        link = ctx.links.get(item.id)
        # A linked item whose attendees are those of the last sync needs no lookup: this is what
        # keeps the echo of rgsync's own writes from costing Salesforce calls (SPEC §10).
        if link is None or link.fields.get(BASE_ATTENDEES) != attendee_key(item, ctx):
            addresses.update(split_participants(others, ctx.identity, ctx.rules.blocklist).external)
        if (
            item.id not in ctx.links
            and not item.salesforce_id
            and not item.cancelled
            and in_window(item.start, ctx)
        ):
            keys.add(meeting_key(item.subject, item.start))
    return EventNeeds(frozenset(addresses), frozenset(keys))
