"""The org's daily API budget (SPEC §7.4): may the next batch of Salesforce calls go out?

rgsync stops writing *before* the share of the daily allocation left would fall below
`min-api-remaining`, so the calls the next batch needs are counted before it is sent: with a daily
allocation of 100 and a floor of 10 %, the last batch allowed is the one that ends at 90 calls used.

The number of calls a batch of writes costs is estimated from how the Salesforce adapter sends
them: sObject Collections of at most 200 records, one run per operation, a few look-ups that
prepare the records (people's addresses, Accounts by name, current Events, invitations) and, for
emails, the call that relates each email to its sender. The estimate errs high: stopping a batch
early costs one session's delay, crossing the floor costs the org's other integrations their calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rgsync.model import ApiUsage, Create, Delete, RecordKind, Update, Write

COLLECTION_SIZE = 200
# Look-ups a write batch may make before it is sent (see the module docstring).
PREPARING_CALLS = {
    RecordKind.EMAIL: 2,  # the people's addresses, then the sender relations after the create
    RecordKind.EVENT: 2,  # the Events as they are now (for updates), invitations already made
    RecordKind.EVENT_INVITEE: 1,
    RecordKind.CONTACT: 1,  # Accounts by company name
}


@dataclass(frozen=True)
class BudgetCheck:
    """The answer for one batch: `allowed`, and the usage it would leave (`used_after` of `limit`)."""

    allowed: bool
    used_after: int
    limit: int
    floor_percent: float


def calls_for_writes(writes: Sequence[Write]) -> int:
    """A high estimate of the Salesforce calls sending `writes` costs (see the module docstring)."""
    if not writes:
        return 0
    runs: dict[str, int] = {}
    kinds: set[RecordKind] = set()
    for write in writes:
        operation = (
            "create" if isinstance(write, Create) else "update" if isinstance(write, Update) else "delete"
        )
        if isinstance(write, Delete | Update | Create):
            runs[operation] = runs.get(operation, 0) + 1
            kinds.add(write.kind)
    collections = sum(-(-count // COLLECTION_SIZE) for count in runs.values())
    # Each Collections call also carries at most 10 runs of one object type; a batch holds records
    # of a few kinds only, so one more call per extra kind covers that split.
    type_splits = max(0, len(kinds) - 1)
    preparing = sum(PREPARING_CALLS.get(kind, 0) for kind in kinds)
    return collections + type_splits + preparing


def check_budget(usage: ApiUsage | None, floor_percent: float, calls: int) -> BudgetCheck:
    """May `calls` more Salesforce calls go out without leaving less than `floor_percent` of the
    daily allocation? An unknown usage (no answer read yet this session) allows them: the first
    answer tells the usage, and every later batch is checked against it."""
    if usage is None or usage.limit <= 0:
        return BudgetCheck(True, 0 if usage is None else usage.used + calls, 0, floor_percent)
    used_after = usage.used + max(0, calls)
    # Compare in whole calls so that 90 of 100 with a floor of 10 % is allowed, 91 is not.
    allowed = (usage.limit - used_after) * 100 >= floor_percent * usage.limit
    return BudgetCheck(allowed, used_after, usage.limit, floor_percent)
