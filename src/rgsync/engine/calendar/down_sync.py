"""Unlinked Salesforce Events: down-sync to the mailbox as tagged copies (SPEC §4.3)."""

from __future__ import annotations

from rgsync.engine.calendar.bookkeeping import EventPlannerBase
from rgsync.engine.calendar.common import attendee_key, in_window
from rgsync.engine.types import LinkChange, SkipReason
from rgsync.model import CalendarItem, Create, RecordKind, Side


class DownSyncRules(EventPlannerBase):
    """New Salesforce Events the user owns or is invited to: copied into the mailbox."""

    def down_sync(self, event: CalendarItem) -> None:
        if event.created_by_rgsync:
            self.skip(event, SkipReason.ALREADY_SAVED)  # saved from a mailbox: it is there already
            return
        if event.owner_id != self.user_id and self.user_id not in event.invitee_ids:
            self.skip(event, SkipReason.NOT_OWNER)
            return
        if not in_window(event.start, self.ctx):
            self.skip(event, SkipReason.OUTSIDE_WINDOW)
            return
        if self.cannot_sync(event, Side.SALESFORCE):
            self.skip(event, SkipReason.CANNOT_SYNC)
            return
        record = self.mailbox_copy(event, event.id)
        base = self.base_fields(
            event,
            attendees=attendee_key(record, self.ctx),
            who_ids=event.who_ids,
            what_id=event.what_id,
        )
        new_link = LinkChange("", event.id, Side.SALESFORCE, base, natural_key=event.id)
        self.act(Side.MAILBOX, Create(RecordKind.EVENT, event.id, record), new_link, event.subject)
