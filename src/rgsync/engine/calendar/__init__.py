"""Calendar items: the planner rules of SPEC §4.

Up-sync (mailbox → Salesforce, §4.2): occurrences inside the window that are meetings the user
organises or accepted (tentatively), or appointments when those are switched on; private items,
internal meetings, meetings whose external attendees are all blocklisted or resolve to no people
record are skipped with a reason. A meeting a colleague already saved is joined as invitee when the
user may edit it (one Event per meeting per user).

Down-sync (Salesforce → mailbox, §4.3): Events the user owns or is invited to, not created from a
mailbox, inside the window, are copied to the mailbox tagged with their Salesforce id.

Linked pairs (§4.4–§4.6) merge field by field against the link's base (mailbox wins; a one-way
option makes one side authoritative), delete by origin, and unlink when they leave the window.
What cannot be synced (§4.7) becomes an issue, never an exception.

The link base (`Link.fields`) holds the merged fields of `rgsync.engine.fields.EVENT_FIELDS` plus
bookkeeping keys: the mailbox attendee addresses, the Salesforce WhoIds and WhatId, whether the
Event was saved as private, and whether the link is to a colleague's Event the user was added to.

Modules: `common` (the window, participants, limits, lookups), `planner` (`plan_events`, the pass)
and the rules it runs: `up_sync`, `down_sync`, `linked`, `deletions`, on `bookkeeping`.
"""

from rgsync.engine.calendar.common import (
    EVENT_TOO_LONG,
    TOO_MANY_PEOPLE,
    TZ_UNMAPPED,
    EventNeeds,
    event_lookups,
    in_window,
    sync_window,
)
from rgsync.engine.calendar.planner import plan_events

__all__ = [
    "EVENT_TOO_LONG",
    "TOO_MANY_PEOPLE",
    "TZ_UNMAPPED",
    "EventNeeds",
    "event_lookups",
    "in_window",
    "plan_events",
    "sync_window",
]
