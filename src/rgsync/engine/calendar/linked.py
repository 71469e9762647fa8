"""Linked pairs: field-by-field merge, attendee changes, leaving the window (SPEC §4.4–§4.6)."""

from __future__ import annotations

from rgsync.engine.blocklist import split_participants
from rgsync.engine.calendar.common import (
    BASE_ATTENDEES,
    BASE_INVITEE,
    BASE_PRIVATE,
    BASE_WHAT_ID,
    BASE_WHO_IDS,
    STREAM,
    attendee_key,
    join_ids,
    other_participants,
    split_ids,
)
from rgsync.engine.calendar.deletions import DeletionRules
from rgsync.engine.fields import EVENT_FIELDS, TRUE, fields_of, typed_changes
from rgsync.engine.linking import choose_links, resolve_people
from rgsync.engine.merge import LinkedPair, kept_link, merge_fields, unlink
from rgsync.model import Address, Attendee, CalendarItem, RecordKind, Response, Side, Update


class LinkedPairRules(DeletionRules):
    """Linked items: merge their changes, follow attendee changes, hand deletions on."""

    def linked(self, pair: LinkedPair[CalendarItem]) -> None:
        link = pair.link
        base = link.fields
        mb, sf = pair.mailbox, pair.salesforce
        present = mb or sf
        subject = present.subject if present is not None else base.get("subject", "")
        cancelled = mb is not None and mb.cancelled
        if pair.mailbox_deleted or cancelled:
            self.mailbox_gone(pair, subject, cancelled=cancelled)
            return
        if pair.salesforce_deleted:
            self.salesforce_gone(pair, subject)
            return
        if mb is not None and self.cannot_sync(mb, Side.MAILBOX):
            return
        if sf is not None and self.cannot_sync(sf, Side.SALESFORCE):
            return
        merge = merge_fields(
            base,
            fields_of(mb) if mb else None,
            fields_of(sf) if sf else None,
            keys=EVENT_FIELDS,
            authority=self.authority,
        )
        new_base = dict(merge.fields)
        if not self.base_in_window(new_base):
            # Leaving the window unlinks; it never deletes (SPEC §4.5).
            self.plan.actions.append(unlink(STREAM, Side.MAILBOX, link, subject))
            return
        to_salesforce: dict[str, object] = typed_changes(CalendarItem, merge.to_salesforce)
        to_mailbox: dict[str, object] = typed_changes(CalendarItem, merge.to_mailbox)
        if sf is not None:
            new_base[BASE_WHAT_ID] = sf.what_id or ""
        self.follow_people(pair, new_base, to_salesforce, to_mailbox)
        new_link = kept_link(link, new_base)
        if to_salesforce:
            self.act(
                Side.SALESFORCE,
                Update(RecordKind.EVENT, link.salesforce_id, to_salesforce),
                new_link,
                subject,
            )
        if to_mailbox:
            self.act(Side.MAILBOX, Update(RecordKind.EVENT, link.mailbox_id, to_mailbox), new_link, subject)
        if not to_salesforce and not to_mailbox and new_base != dict(base):
            self.act(Side.MAILBOX, None, new_link, subject)

    def follow_people(
        self,
        pair: LinkedPair[CalendarItem],
        new_base: dict[str, str],
        to_salesforce: dict[str, object],
        to_mailbox: dict[str, object],
    ) -> None:
        """Attendee changes of a linked meeting (SPEC §4.4).

        Mailbox attendees added or removed → the Event's people follow (resolved as on creation),
        but never down to nobody.
        People added in Salesforce → added as attendees (answer unknown) to a Salesforce-origin item;
        people removed in Salesforce are not removed from the mailbox. A private or a colleague's
        Event keeps its people. One-way options revert the other side's people edits.
        """
        base = pair.link.fields
        if base.get(BASE_PRIVATE) == TRUE or base.get(BASE_INVITEE) == TRUE:
            return
        mb, sf = pair.mailbox, pair.salesforce
        base_who = split_ids(base.get(BASE_WHO_IDS, ""))
        base_attendees = base.get(BASE_ATTENDEES)
        sf_who = tuple(sf.who_ids) if sf is not None else base_who
        mb_attendees = attendee_key(mb, self.ctx) if mb is not None else base_attendees
        mailbox_moved = mb is not None and base_attendees is not None and mb_attendees != base_attendees

        target_who: tuple[str, ...] | None = None
        if mailbox_moved and self.authority is not Side.SALESFORCE and mb is not None:
            target_who = self.people_of(mb)
            if target_who is None:
                return
            if not target_who:
                # Nobody left to relate: keep the Event's people rather than strip them all (an
                # item whose attendees could not be read must not empty the Event).
                target_who = None
        elif self.authority is Side.MAILBOX and set(sf_who) != set(base_who):
            target_who = base_who  # Salesforce edits are reverted
        if target_who is not None and set(target_who) != set(sf_who):
            to_salesforce["who_ids"] = target_who
        new_who = target_who if target_who is not None else sf_who

        new_attendees = mb_attendees if mailbox_moved or base_attendees is None else base_attendees
        if (
            not mailbox_moved
            and self.authority is not Side.MAILBOX
            and pair.link.origin is Side.SALESFORCE
            and sf is not None
        ):
            known = set(split_ids(mb_attendees or ""))
            current = mb.attendees if mb is not None else tuple(Attendee(Address(e)) for e in sorted(known))
            added = tuple(
                Attendee(Address(p.email.lower(), p.name), Response.NONE)
                for p in (self.people_by_id.get(w) for w in sf_who if w not in base_who)
                if p is not None and p.email and p.email.lower() not in known
            )
            if added:
                to_mailbox["attendees"] = current + added
                new_attendees = join_ids([*known, *(a.address.email for a in added)])
        new_base[BASE_WHO_IDS] = join_ids(new_who)
        new_base[BASE_ATTENDEES] = new_attendees or ""

    def people_of(self, item: CalendarItem) -> tuple[str, ...] | None:
        """The WhoIds a meeting's current attendees resolve to; None if there are too many."""
        parts = split_participants(
            other_participants(item, self.ctx), self.ctx.identity, self.rules.blocklist
        )
        people, _unresolved = resolve_people(parts.external, self.directory)
        if self.too_many_people(item, len(people)):
            return None
        choice = choose_links(people, self.directory, self.ctx, by_rule=True)
        return choice.who_ids if choice is not None else tuple(p.id for p in people)
