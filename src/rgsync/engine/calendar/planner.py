"""The calendar planner (SPEC §4.2–§4.7): up-sync, down-sync, merges, deletions, one-way options."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from rgsync.engine.blocklist import split_participants
from rgsync.engine.calendar.common import (
    ACCEPTED_RESPONSES,
    BASE_ATTENDEES,
    BASE_INVITEE,
    BASE_PRIVATE,
    BASE_WHAT_ID,
    BASE_WHO_IDS,
    EVENT_TOO_LONG,
    MAX_ALL_DAY_DAYS,
    MAX_EVENT,
    MAX_PEOPLE,
    MAX_SALESFORCE_EVENT,
    STREAM,
    TOO_MANY_PEOPLE,
    TZ_UNMAPPED,
    attendee_key,
    authority,
    in_window,
    join_ids,
    other_participants,
    split_ids,
)
from rgsync.engine.fields import (
    EVENT_FIELDS,
    FALSE,
    TRUE,
    decode_datetime,
    fields_of,
    item_from_fields,
    typed_changes,
)
from rgsync.engine.linking import choose_links, resolve_people
from rgsync.engine.merge import (
    LinkedPair,
    Pairing,
    kept_link,
    merge_fields,
    pair_changes,
    unlink,
    write_and_unlink,
)
from rgsync.engine.types import (
    Action,
    Directory,
    LinkChange,
    Plan,
    SideChanges,
    Skip,
    SkipReason,
    StreamContext,
)
from rgsync.model import (
    Address,
    Attendee,
    CalendarItem,
    Create,
    Delete,
    EventInvitee,
    EventRecord,
    IssueItem,
    IssueReport,
    IssueSource,
    Person,
    RecordKind,
    Response,
    Severity,
    Side,
    Update,
    event_key,
    meeting_key,
    utc,
)


def plan_events(
    mailbox: SideChanges[CalendarItem],
    salesforce: SideChanges[CalendarItem],
    directory: Directory,
    ctx: StreamContext,
) -> Plan:
    """Plan one session of the calendar stream (SPEC §4) from both sides' changes.

    `directory` holds the people records of `event_lookups(...).addresses`, the Opportunities and
    Accounts linking needs, and colleagues' Events by meeting key. Pure: returns the Plan.
    """
    return _EventPlanner(directory, ctx).run(pair_changes(mailbox, salesforce, ctx))


class _EventPlanner:
    """One planning pass; holds what the rules share while the plan is built."""

    def __init__(self, directory: Directory, ctx: StreamContext) -> None:
        self.directory = directory
        self.ctx = ctx
        self.rules = ctx.rules
        self.user_id = ctx.identity.user_id
        self.authority = authority(ctx)
        self.plan = Plan()
        # Salesforce Events linked during this pass: never down-synced as new ones.
        self.claimed: set[str] = set()
        # Mailbox items removed by the switch-off pass: nothing else to do for their links.
        self.removed: set[str] = set()
        self.people_by_id: dict[str, Person] = {
            person.id: person for people in directory.people.values() for person in people
        }

    # ----------------------------------------------------------------------------------------
    # Bookkeeping helpers

    def skip(self, item: CalendarItem, reason: SkipReason) -> None:
        self.plan.skips.append(Skip(STREAM, item.id, item.subject, reason))

    def act(
        self, side: Side, write: Create | Update | Delete | None, link: LinkChange | None, subject: str
    ) -> None:
        self.plan.actions.append(Action(STREAM, side, write, link, subject))

    def issue(self, code: str, item: CalendarItem, side: Side, message: str, advice: str) -> None:
        on_mailbox = side is Side.MAILBOX
        self.plan.issues.append(
            IssueReport(
                code=code,
                severity=Severity.WARNING,
                source=IssueSource.MAILBOX if on_mailbox else IssueSource.SALESFORCE,
                message=message,
                advice=advice,
                item=IssueItem(
                    kind="event",
                    subject=item.subject,
                    mailbox_id=item.id if on_mailbox else (item.salesforce_id or ""),
                    salesforce_id=(item.salesforce_id or "") if on_mailbox else item.id,
                ),
                stream=STREAM,
            )
        )

    def cannot_sync(self, item: CalendarItem, side: Side) -> bool:
        """Report what SPEC §4.7 says cannot be synced; True when the item must be left alone."""
        length = item.end - item.start
        if item.all_day and (item.end_day - item.start_day).days > MAX_ALL_DAY_DAYS:
            self.issue(
                EVENT_TOO_LONG,
                item,
                side,
                f"All-day item lasting {(item.end_day - item.start_day).days} days cannot be synced "
                f"(at most {MAX_ALL_DAY_DAYS}).",
                "Split it into shorter items, or keep it out of Salesforce.",
            )
            return True
        if not item.all_day and side is Side.SALESFORCE and length > MAX_SALESFORCE_EVENT:
            self.issue(
                EVENT_TOO_LONG,
                item,
                side,
                "Salesforce Event longer than 24 hours (not all-day) cannot be synced to the mailbox.",
                "Make it an all-day Event or shorten it in Salesforce.",
            )
            return True
        if not item.all_day and length > MAX_EVENT:
            self.issue(
                EVENT_TOO_LONG,
                item,
                side,
                "Item longer than 14 days cannot be saved as a Salesforce Event.",
                "Shorten it or split it into several items.",
            )
            return True
        if item.timezone_unmapped:
            self.issue(
                TZ_UNMAPPED,
                item,
                side,
                f"Can't match time zone '{item.timezone_unmapped}' to one Salesforce supports.",
                "Use a common time zone for this item (e.g. the nearest city's).",
            )
            return True
        return False

    def too_many_people(self, item: CalendarItem, count: int) -> bool:
        if count <= MAX_PEOPLE:
            return False
        self.issue(
            TOO_MANY_PEOPLE,
            item,
            Side.MAILBOX,
            f"{count} people records to relate; Salesforce relates at most {MAX_PEOPLE} to one Event.",
            "Save it manually with fewer attendees, or remove attendees from the meeting.",
        )
        return True

    def base_fields(
        self,
        item: CalendarItem,
        *,
        attendees: str,
        who_ids: Iterable[str],
        what_id: str | None,
        private: bool = False,
        invitee: bool = False,
    ) -> dict[str, str]:
        base = fields_of(item)
        base[BASE_ATTENDEES] = attendees
        base[BASE_WHO_IDS] = join_ids(who_ids)
        base[BASE_WHAT_ID] = what_id or ""
        base[BASE_PRIVATE] = TRUE if private else FALSE
        base[BASE_INVITEE] = TRUE if invitee else FALSE
        return base

    def base_in_window(self, base: Mapping[str, str]) -> bool:
        start = base.get("start")
        return True if not start else in_window(decode_datetime(start), self.ctx)

    def mailbox_copy(self, event: CalendarItem, salesforce_id: str) -> CalendarItem:
        """A Salesforce Event as the mailbox item rgsync creates: tagged with its Salesforce id.

        Its attendees are the Event's people whose address is known, answer unknown; the adapters
        create the item without sending invitations (SPEC §4.3).
        """
        attendees = event.attendees
        if not attendees:
            attendees = tuple(
                Attendee(Address(p.email.lower(), p.name), Response.NONE)
                for p in (self.people_by_id.get(w) for w in event.who_ids)
                if p is not None and p.email
            )
        return dataclasses.replace(
            event,
            id="",
            salesforce_id=salesforce_id,
            attendees=attendees,
            organizer=None,
            my_response=Response.ORGANIZER,
            created_by_rgsync=False,
        )

    # ----------------------------------------------------------------------------------------
    # The pass

    def run(self, pairing: Pairing[CalendarItem]) -> Plan:
        if not self.rules.sync_salesforce_calendar:
            self.switch_off(pairing)
        for pair in pairing.linked:
            if pair.link.mailbox_id not in self.removed:
                self.linked(pair)
        salesforce_new = {item.id: item for item in pairing.new_in_salesforce}
        gone_in_salesforce = set(pairing.unlinked_salesforce_deletions)
        for item in pairing.new_in_mailbox:
            if item.salesforce_id:
                self.orphan_copy(item, salesforce_new.get(item.salesforce_id), gone_in_salesforce)
            else:
                self.up_sync(item)
        if self.rules.sync_salesforce_calendar:
            for event in pairing.new_in_salesforce:
                if event.id not in self.claimed:
                    self.down_sync(event)
        return self.plan

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

    # ----------------------------------------------------------------------------------------
    # Linked pairs (§4.4–§4.6)

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
            # A mailbox-origin item stays in the mailbox, unlinked.
            self.plan.actions.append(unlink(STREAM, Side.SALESFORCE, link, subject))

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

    # ----------------------------------------------------------------------------------------
    # Unlinked mailbox items: up-sync (§4.2)

    def up_sync(self, item: CalendarItem) -> None:
        rules = self.rules
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

    # ----------------------------------------------------------------------------------------
    # Unlinked Salesforce Events: down-sync (§4.3)

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
