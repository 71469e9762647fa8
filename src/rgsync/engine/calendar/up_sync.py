"""Unlinked mailbox items: up-sync of meetings and appointments to Salesforce Events (SPEC §4.2)."""

from __future__ import annotations

import dataclasses

from rgsync.engine.blocklist import split_participants
from rgsync.engine.calendar.bookkeeping import EventPlannerBase
from rgsync.engine.calendar.common import ACCEPTED_RESPONSES, attendee_key, in_window, other_participants
from rgsync.engine.fields import fields_of, typed_changes
from rgsync.engine.linking import choose_links, resolve_people
from rgsync.engine.types import LinkChange, SkipReason
from rgsync.model import (
    CalendarItem,
    Create,
    Delete,
    EventInvitee,
    EventRecord,
    RecordKind,
    Response,
    Side,
    Update,
    event_key,
    meeting_key,
    utc,
)


class UpSyncRules(EventPlannerBase):
    """New mailbox items: save them as Events, join a colleague's Event, or adopt an orphan copy."""

    def up_sync(self, item: CalendarItem) -> None:
        rules = self.rules
        if item.id in self.ctx.unlinked:
            # Its Event was removed in Salesforce (SPEC §4.5): an edit here must not bring it back.
            self.skip(item, SkipReason.REMOVED_IN_SALESFORCE)
            return
        if item.cancelled:
            self.skip(item, SkipReason.CANCELLED)
            return
        if not in_window(item.start, self.ctx):
            self.skip(item, SkipReason.OUTSIDE_WINDOW)
            return
        others = other_participants(item, self.ctx)
        meeting = bool(others)
        if meeting and not rules.auto_save_meetings:
            self.skip(item, SkipReason.MEETINGS_OFF)
            return
        if not meeting and not rules.auto_save_appointments:
            self.skip(item, SkipReason.APPOINTMENTS_OFF)
            return
        if meeting and item.my_response not in ACCEPTED_RESPONSES:
            if item.my_response is Response.DECLINED:
                self.skip(item, SkipReason.DECLINED)
                return
            if not rules.save_unanswered_invitations:
                self.skip(item, SkipReason.UNANSWERED)
                return
        if item.private and not rules.save_private_events:
            self.skip(item, SkipReason.PRIVATE)
            return
        external: tuple[str, ...] = ()
        if meeting:
            parts = split_participants(others, self.ctx.identity, rules.blocklist)
            if not parts.external:
                self.skip(item, SkipReason.BLOCKLISTED if parts.blocked else SkipReason.INTERNAL)
                return
            external = parts.external
        if self.cannot_sync(item, Side.MAILBOX):
            self.skip(item, SkipReason.CANNOT_SYNC)
            return
        attendees = attendee_key(item, self.ctx)
        if item.private:
            # Saved as private, without people or business record (SPEC §4.2).
            record = dataclasses.replace(item, attendees=(), organizer=None)
            self.create_event(
                item,
                record,
                (),
                None,
                self.base_fields(item, attendees=attendees, who_ids=(), what_id=None, private=True),
            )
            return
        who_ids: tuple[str, ...] = ()
        what_id: str | None = None
        if meeting:
            people, _unresolved = resolve_people(external, self.directory)
            if not people:
                # The session auto-resolves addresses for emails only; a meeting just waits.
                self.skip(item, SkipReason.NO_RELATED_RECORD)
                return
            if self.too_many_people(item, len(people)):
                self.skip(item, SkipReason.CANNOT_SYNC)
                return
            choice = choose_links(people, self.directory, self.ctx, by_rule=True)
            if choice is None:
                self.skip(item, SkipReason.NO_OPPORTUNITY_OR_ACCOUNT)
                return
            who_ids, what_id = choice.who_ids, choice.what_id
            if self.join_existing(item, attendees, who_ids, what_id):
                return
        base = self.base_fields(item, attendees=attendees, who_ids=who_ids, what_id=what_id)
        self.create_event(item, item, who_ids, what_id, base)

    def create_event(
        self,
        item: CalendarItem,
        record: CalendarItem,
        who_ids: tuple[str, ...],
        what_id: str | None,
        base: dict[str, str],
    ) -> None:
        """Create the user's Event for a mailbox item; the description goes this once (§4.4)."""
        record = dataclasses.replace(record, start=utc(record.start), end=utc(record.end), salesforce_id=None)
        key = event_key(item.subject, item.start, self.user_id)
        create = Create(RecordKind.EVENT, key, EventRecord(record, who_ids, what_id, self.user_id))
        self.act(
            Side.SALESFORCE,
            create,
            LinkChange(item.id, "", Side.MAILBOX, base, natural_key=key),
            item.subject,
        )

    def join_existing(
        self, item: CalendarItem, attendees: str, who_ids: tuple[str, ...], what_id: str | None
    ) -> bool:
        """One Event per meeting per user (SPEC §4.2): reuse an Event already in the org.

        A colleague's Event the user may edit → the user is added as invitee and linked to it.
        The user's own unlinked Event for the meeting → adopted. True when handled.
        """
        existing = self.directory.existing_events.get(meeting_key(item.subject, item.start))
        if existing is None or existing.id in self.claimed or existing.id in self.ctx.links_by_salesforce_id:
            return False
        if existing.owner_id == self.user_id:
            base = self.base_fields(item, attendees=attendees, who_ids=who_ids, what_id=what_id)
            self.claimed.add(existing.id)
            key = event_key(item.subject, item.start, self.user_id)
            self.act(
                Side.SALESFORCE,
                None,
                LinkChange(item.id, existing.id, Side.MAILBOX, base, natural_key=key),
                item.subject,
            )
            return True
        if not existing.editable:
            return False  # the user gets an Event of their own, as Revenue Grid does
        base = self.base_fields(item, attendees=attendees, who_ids=who_ids, what_id=what_id, invitee=True)
        self.claimed.add(existing.id)
        key = f"invitee|{existing.id}|{self.user_id}"
        create = Create(RecordKind.EVENT_INVITEE, key, EventInvitee(existing.id, self.user_id))
        self.act(
            Side.SALESFORCE,
            create,
            LinkChange(item.id, existing.id, Side.MAILBOX, base, natural_key=key),
            item.subject,
        )
        return True

    def orphan_copy(self, item: CalendarItem, event: CalendarItem | None, gone: set[str]) -> None:
        """A mailbox item tagged with a Salesforce id but not linked (e.g. a crash before the link
        was recorded): adopt it, or remove it when its Event is gone or down-sync is off."""
        salesforce_id = item.salesforce_id or ""
        if not self.rules.sync_salesforce_calendar or salesforce_id in gone:
            self.act(Side.MAILBOX, Delete(RecordKind.EVENT, item.id), None, item.subject)
            return
        if not in_window(item.start, self.ctx):
            self.skip(item, SkipReason.OUTSIDE_WINDOW)
            return
        source = event or item
        base = self.base_fields(
            source,
            attendees=attendee_key(item, self.ctx),
            who_ids=source.who_ids,
            what_id=source.what_id,
        )
        self.claimed.add(salesforce_id)
        new_link = LinkChange(item.id, salesforce_id, Side.SALESFORCE, base, natural_key=salesforce_id)
        # The copy was made from Salesforce: bring it back in line when the Event moved on.
        mine = fields_of(item)
        changes = {k: v for k, v in fields_of(source).items() if mine.get(k) != v}
        write = Update(RecordKind.EVENT, item.id, typed_changes(CalendarItem, changes)) if changes else None
        self.act(Side.MAILBOX, write, new_link, item.subject)
