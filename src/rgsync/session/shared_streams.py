"""Claims in the events and emails streams: which items join a colleague's record, which are
looked up by the fallback query, which wait for the next session (see `session.shared`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from rgsync.engine.calendar.common import BASE_PRIVATE
from rgsync.engine.fields import TRUE
from rgsync.engine.shared import EMAIL_CLAIMS, EVENT_CLAIMS, meeting_claim_key
from rgsync.engine.types import SideChanges
from rgsync.model import CalendarItem, ExistingEvent, Link, SyncRecord, meeting_key
from rgsync.session.shared import Arrangement, SharedRecords, arrange, settle


@dataclass
class MeetingClaims:
    """The claims on a session's unlinked meetings (one per iCalendar UID + start).

    `fallback_keys`: the meeting keys still to look up in Salesforce (`Crm.find_meetings`) — those
    this session claimed, and meetings without a UID. `deferred_items`: mailbox ids of meetings
    another session is saving right now.
    """

    arrangement: Arrangement
    items: dict[str, CalendarItem] = field(default_factory=dict)
    fallback_keys: frozenset[str] = frozenset()
    deferred_items: frozenset[str] = frozenset()

    def without_deferred(self, changes: SideChanges[SyncRecord]) -> SideChanges[SyncRecord]:
        """The mailbox changes less the deferred meetings (planned by the next session)."""
        if not self.deferred_items:
            return changes
        kept = tuple(i for i in changes.changed if getattr(i, "id", "") not in self.deferred_items)
        return SideChanges(kept, changes.deleted)

    def existing(self, found: Mapping[str, ExistingEvent]) -> dict[str, ExistingEvent]:
        """Colleagues' Events by meeting key: the claims' records, and what the fallback found.

        A claimed Event is a fleet colleague's: the user joins it as invitee (SPEC §4.2). So is an
        Event the fallback found for a claim taken over from a dead session.
        """
        out = dict(found)
        for key in self.arrangement.taken_over:
            mkey = _meeting_key(self.items[key])
            if mkey in out:
                out[mkey] = dataclasses.replace(out[mkey], editable=True)
        for key, claim in self.arrangement.joined.items():
            out[_meeting_key(self.items[key])] = ExistingEvent(
                str(claim.record_id), claim.owner_id or "", editable=True
            )
        return out

    def settle(
        self,
        shared: SharedRecords,
        links: Mapping[str, Link],
        existing: Mapping[str, ExistingEvent],
        user_id: str,
    ) -> None:
        """Fill each held claim with the Event its item is now linked to; release the rest."""
        records: dict[str, tuple[str, str]] = {}
        for key in self.arrangement.held:
            item = self.items[key]
            link = links.get(item.id)
            if link is None or link.fields.get(BASE_PRIVATE) == TRUE:
                continue  # not saved, or saved as private: nothing colleagues may join
            event = existing.get(_meeting_key(item))
            owner = event.owner_id if event is not None and event.id == link.salesforce_id else user_id
            records[key] = (link.salesforce_id, owner)
        settle(shared, EVENT_CLAIMS, self.arrangement.held, records)


def claim_meetings(
    shared: SharedRecords,
    changes: SideChanges[SyncRecord],
    meeting_keys: frozenset[str],
    *,
    dry_run: bool,
) -> MeetingClaims:
    """Arrange the claims of the unlinked meetings the planner may save (`meeting_keys`)."""
    items: dict[str, CalendarItem] = {}
    for item in changes.changed:
        if isinstance(item, CalendarItem) and _meeting_key(item) in meeting_keys:
            key = meeting_claim_key(item)
            if key is not None:
                items.setdefault(key, item)
    arrangement = arrange(shared, EVENT_CLAIMS, items, dry_run=dry_run)
    settled = {_meeting_key(items[k]) for k in (*arrangement.joined, *arrangement.deferred)}
    deferred = frozenset(
        i.id
        for i in changes.changed
        if isinstance(i, CalendarItem) and meeting_claim_key(i) in arrangement.deferred
    )
    return MeetingClaims(arrangement, items, frozenset(meeting_keys - settled), deferred)


def _meeting_key(item: CalendarItem) -> str:
    return meeting_key(item.subject, item.start)


NO_MESSAGE_ID = "@rgsync.invalid>"


@dataclass
class EmailClaims:
    """The claims on a chunk's Message-IDs.

    `colleague_emails`: Message-ID → a colleague's saved email (joined without a query);
    `fallback_ids`: Message-IDs still to look up (`Crm.find_existing(EMAIL)`); `deferred`:
    Message-IDs another session is saving right now.
    """

    arrangement: Arrangement
    colleague_emails: dict[str, str] = field(default_factory=dict)
    fallback_ids: frozenset[str] = frozenset()

    @property
    def deferred(self) -> frozenset[str]:
        return self.arrangement.deferred

    def settle(self, shared: SharedRecords, saved: Mapping[str, str], user_id: str) -> None:
        """Fill each held claim with the email saved (or found) under it; release the rest."""
        records = {k: (saved[k], user_id) for k in self.arrangement.held if saved.get(k)}
        settle(shared, EMAIL_CLAIMS, self.arrangement.held, records)


def claim_emails(shared: SharedRecords, message_ids: Collection[str], *, dry_run: bool) -> EmailClaims:
    """Arrange the claims of the Message-IDs a chunk of emails may save."""
    # A key made up for an email without a Message-ID names one mailbox's item: nothing to share.
    arrangement = arrange(
        shared, EMAIL_CLAIMS, [m for m in message_ids if not m.endswith(NO_MESSAGE_ID)], dry_run=dry_run
    )
    joined = {k: str(c.record_id) for k, c in arrangement.joined.items()}
    fallback = frozenset(set(message_ids) - set(joined) - arrangement.deferred)
    # The user's own earlier save of the same email (another copy) is linked, never related again.
    colleagues = {k: v for k, v in joined.items() if arrangement.joined[k].holder != shared.holder}
    return EmailClaims(arrangement, colleagues, fallback)


def joined_emails(claims: EmailClaims) -> dict[str, str]:
    """Every Message-ID a claim already gives a record for (colleagues' and the user's own)."""
    return {k: str(c.record_id) for k, c in claims.arrangement.joined.items()}
