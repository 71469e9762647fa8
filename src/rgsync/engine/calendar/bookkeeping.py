"""What the calendar planner's rules share: the pass's state, skips, actions, issues (SPEC §4.7),
the link base and the mailbox copy of a Salesforce Event."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from rgsync.engine.calendar.common import (
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
    in_window,
    join_ids,
)
from rgsync.engine.fields import FALSE, TRUE, decode_datetime, fields_of
from rgsync.engine.types import Action, Directory, LinkChange, Plan, Rules, Skip, SkipReason, StreamContext
from rgsync.model import (
    Address,
    Attendee,
    CalendarItem,
    Create,
    Delete,
    IssueItem,
    IssueReport,
    IssueSource,
    Person,
    Response,
    Severity,
    Side,
    Update,
)


class EventPlannerBase:
    """The state of one planning pass and the helpers every rule uses.

    `planner._EventPlanner` sets the state; the rule mixins (up-sync, down-sync, linked pairs,
    deletions) build on these helpers.
    """

    directory: Directory
    ctx: StreamContext
    rules: Rules
    user_id: str
    authority: Side | None
    plan: Plan
    # Salesforce Events linked during this pass: never down-synced as new ones.
    claimed: set[str]
    # Mailbox items removed by the switch-off pass: nothing else to do for their links.
    removed: set[str]
    people_by_id: dict[str, Person]

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
