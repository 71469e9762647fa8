"""Deletions of linked items, one-way recreation, and the down-sync switch-off (SPEC §4.3, §4.5, §4.6)."""

from __future__ import annotations

import dataclasses

from rgsync.engine.calendar.bookkeeping import EventPlannerBase
from rgsync.engine.calendar.common import (
    BASE_ATTENDEES,
    BASE_INVITEE,
    BASE_PRIVATE,
    BASE_WHAT_ID,
    BASE_WHO_IDS,
    STREAM,
    attendee_key,
    split_ids,
)
from rgsync.engine.fields import FALSE, TRUE, fields_of, item_from_fields
from rgsync.engine.merge import LinkedPair, Pairing, unlink, unlink_for_good, write_and_unlink
from rgsync.engine.types import LinkChange
from rgsync.model import CalendarItem, Create, Delete, EventRecord, RecordKind, Side, event_key, utc

# Why a mailbox item is not saved again (kept in the state store, shown in `--json` skips).
REMOVED_IN_SALESFORCE = "its Event was deleted in Salesforce, or left the user's calendar there"


class DeletionRules(EventPlannerBase):
    """What a deletion on one side does to the other, by origin, window and one-way option."""

    def switch_off(self, pairing: Pairing[CalendarItem]) -> None:
        """`sync-salesforce-calendar` off: remove every Salesforce-origin item from the mailbox (§4.3)."""
        already_gone = {p.link.mailbox_id for p in pairing.linked if p.mailbox_deleted}
        for link in self.ctx.links.values():
            if link.origin is not Side.SALESFORCE:
                continue
            subject = link.fields.get("subject", "")
            if link.mailbox_id in already_gone:
                self.plan.actions.append(unlink(STREAM, Side.MAILBOX, link, subject))
            else:
                delete = Delete(RecordKind.EVENT, link.mailbox_id)
                self.plan.actions.append(write_and_unlink(STREAM, Side.MAILBOX, delete, link, subject))
            self.removed.add(link.mailbox_id)

    def mailbox_gone(self, pair: LinkedPair[CalendarItem], subject: str, *, cancelled: bool) -> None:
        """Deleted or cancelled in the mailbox (SPEC §4.5, §4.6)."""
        link = pair.link
        if pair.salesforce_deleted:
            self.plan.actions.append(unlink(STREAM, Side.MAILBOX, link, subject))
            return
        if not self.base_in_window(link.fields):
            # A windowed listing no longer shows an item that left the window: not a deletion.
            self.plan.actions.append(unlink(STREAM, Side.MAILBOX, link, subject))
            return
        if self.authority is Side.SALESFORCE:
            # Salesforce is authoritative: a deletion in the mailbox is reverted. A cancelled
            # meeting cannot be un-cancelled; it is let go instead.
            if cancelled:
                self.plan.actions.append(unlink(STREAM, Side.MAILBOX, link, subject))
            else:
                self.recreate_in_mailbox(pair, subject)
            return
        if link.fields.get(BASE_INVITEE) == TRUE:
            # The Event is a colleague's: only the user's invitation to it goes (Delete by Event id).
            write = Delete(RecordKind.EVENT_INVITEE, link.salesforce_id)
        else:
            write = Delete(RecordKind.EVENT, link.salesforce_id)
        self.plan.actions.append(write_and_unlink(STREAM, Side.SALESFORCE, write, link, subject))

    def salesforce_gone(self, pair: LinkedPair[CalendarItem], subject: str) -> None:
        """Deleted in Salesforce (SPEC §4.5, §4.6)."""
        link = pair.link
        if not self.base_in_window(link.fields):
            self.plan.actions.append(unlink(STREAM, Side.SALESFORCE, link, subject))
        elif self.authority is Side.MAILBOX:
            self.recreate_in_salesforce(pair, subject)
        elif link.origin is Side.SALESFORCE:
            delete = Delete(RecordKind.EVENT, link.mailbox_id)
            self.plan.actions.append(write_and_unlink(STREAM, Side.MAILBOX, delete, link, subject))
        else:
            # A mailbox-origin item stays in the mailbox, unlinked — and is never saved again by a
            # later edit in the mailbox: the user (or a colleague) removed its Event on purpose.
            self.plan.actions.append(
                unlink_for_good(STREAM, Side.SALESFORCE, link, subject, REMOVED_IN_SALESFORCE)
            )

    def recreate_in_salesforce(self, pair: LinkedPair[CalendarItem], subject: str) -> None:
        """mailbox-to-salesforce: an Event deleted in Salesforce comes back from the mailbox."""
        link = pair.link
        base = link.fields
        source = pair.mailbox or item_from_fields(CalendarItem, base, id=link.mailbox_id)
        private = base.get(BASE_PRIVATE) == TRUE
        who_ids = () if private else split_ids(base.get(BASE_WHO_IDS, ""))
        what_id = None if private else (base.get(BASE_WHAT_ID) or None)
        record = dataclasses.replace(
            source, start=utc(source.start), end=utc(source.end), private=private or source.private
        )
        key = event_key(source.subject, source.start, self.user_id)
        new_base = {
            **base,
            **fields_of(source),
            BASE_INVITEE: FALSE,
        }
        if pair.mailbox is not None:
            new_base[BASE_ATTENDEES] = attendee_key(pair.mailbox, self.ctx)
        create = Create(RecordKind.EVENT, key, EventRecord(record, who_ids, what_id, self.user_id))
        new_link = LinkChange(link.mailbox_id, "", link.origin, new_base, natural_key=key)
        self.act(Side.SALESFORCE, create, new_link, subject)

    def recreate_in_mailbox(self, pair: LinkedPair[CalendarItem], subject: str) -> None:
        """salesforce-to-mailbox: an item deleted in the mailbox comes back from Salesforce."""
        link = pair.link
        base = link.fields
        source = pair.salesforce or item_from_fields(
            CalendarItem, base, id=link.salesforce_id, who_ids=split_ids(base.get(BASE_WHO_IDS, ""))
        )
        record = self.mailbox_copy(source, link.salesforce_id)
        new_base = {**base, **fields_of(source), BASE_ATTENDEES: attendee_key(record, self.ctx)}
        new_link = LinkChange("", link.salesforce_id, link.origin, new_base, natural_key=link.natural_key)
        self.act(Side.MAILBOX, Create(RecordKind.EVENT, link.salesforce_id, record), new_link, subject)
