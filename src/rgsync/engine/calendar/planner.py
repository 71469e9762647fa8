"""The calendar planner (SPEC §4.2–§4.7): one planning pass in the order of SPEC §4.

The rules live beside it, one responsibility a module: `up_sync` (new mailbox items), `down_sync`
(new Salesforce Events), `linked` (merges and attendees of linked pairs), `deletions` (deletions,
one-way recreation, switching down-sync off); `bookkeeping` holds what they share.
"""

from __future__ import annotations

from rgsync.engine.calendar.common import authority
from rgsync.engine.calendar.deletions import DeletionRules
from rgsync.engine.calendar.down_sync import DownSyncRules
from rgsync.engine.calendar.linked import LinkedPairRules
from rgsync.engine.calendar.up_sync import UpSyncRules
from rgsync.engine.merge import Pairing, pair_changes
from rgsync.engine.types import Directory, Plan, SideChanges, StreamContext
from rgsync.model import CalendarItem, Person


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


class _EventPlanner(LinkedPairRules, DeletionRules, UpSyncRules, DownSyncRules):
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
