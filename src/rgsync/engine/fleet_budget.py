"""The fleet's share of the org's daily Salesforce allocation (SPEC §11, §7.4): pure rules.

Salesforce counts API calls over a rolling 24 hours against the org's allocation. A fleet runs
many users' sessions against that one allocation, beside the org's other integrations, so before
a session starts the fleet decides whether it may run now:

* **the org's floor** — `min-api-remaining` of the org policy, in calls: the fleet never lets its
  own sessions take the org below it. Each admitted session *reserves* an estimate of its calls
  until it ends, so sessions that start at the same moment count each other;
* **the user's share** — what one user may use in any 24 hours: the calls left above the floor
  once the other integrations' use is taken off, divided evenly among the active users, and at
  most the per-user cap of the policy (`user-daily-api-calls`, 0 = no cap). A user may start a
  session while they have used less than their share.

When no session has told the fleet the allocation for a while, one worker reads it from the
`limits` resource, at most once per recheck period; that call counts too, so admission keeps a
small reserve for those reads above the floor (`reading_reserve`) and a read is made only while
the last reading leaves room for it.

A session that may not run now is *deferred* to the moment the budget is expected back (the
fleet's own calls age out of the 24-hour window), and at the latest after the recheck period,
when the allocation is read again. The forecast tells the admin where today's rate leads.

Everything here takes `now` and the figures the caller read; nothing here touches the clock,
the network or the database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)
# The rate the forecast extrapolates is the fleet's calls over this last stretch.
RATE_LOOKBACK = timedelta(hours=1)
# A user's first session (no history yet) reserves this many calls; later ones reserve their
# largest recent session. The reservation is corrected by the real count when the session ends.
FIRST_SESSION_ESTIMATE = 40
ORG_FLOOR = "org-floor"
USER_SHARE = "user-share"


@dataclass(frozen=True)
class Calls:
    """Salesforce calls a session made, and when it started."""

    at: datetime
    count: int


def floor_calls(limit: int, floor_percent: float) -> int:
    """The floor in whole calls: `floor_percent` of `limit`, rounded up (never below it)."""
    if limit <= 0 or floor_percent <= 0:
        return 0
    return min(limit, math.ceil(limit * floor_percent / 100 - 1e-9))


def fair_share(limit: int, floor: int, other_used: int, active_users: int, cap: int) -> int:
    """One user's share of the allocation in any 24 hours.

    `limit - floor - other_used` (what the fleet may spend beside the org's other integrations)
    divided evenly among `active_users`, then at most `cap` when a cap is set (> 0).
    """
    spendable = max(0, limit - floor - max(0, other_used))
    share = spendable // max(1, active_users)
    return min(share, cap) if cap > 0 else share


def reading_reserve(limit: int, recheck: timedelta) -> int:
    """Calls kept above the floor for reading the allocation: one read per `recheck` period for a
    day (every call of an older reading has left the 24-hour window by then), at most 1 % of the
    allocation and at least 1."""
    reads = math.ceil(WINDOW / max(recheck, timedelta(seconds=1)))
    return max(1, min(reads, limit // 100))


def may_read_allocation(
    limit: int,
    used: int,
    reserved: int,
    floor: int,
    *,
    aged_out: int = 0,
    reading_age: timedelta = timedelta(0),
) -> bool:
    """Whether one call to read the allocation keeps the org at or above its floor.

    By the last reading (always, when it was never read), less the fleet's calls counted in it that
    have left the 24-hour window since (`aged_out`): a fleet that spent the allocation down to its
    floor reads again as its own calls age out. A reading a whole window old counts no more: every
    call in it has left the window, so one read is made (once per recheck period at most).
    """
    if limit <= 0 or reading_age >= WINDOW:
        return True
    return used - max(0, aged_out) + reserved + 1 <= limit - floor


def session_estimate(recent: Sequence[int], first: int = FIRST_SESSION_ESTIMATE) -> int:
    """The calls to reserve for a user's next session: the largest of their recent sessions
    (at least 1), or `first` when the user has none yet."""
    counts = [c for c in recent if c >= 0]
    return max(1, max(counts)) if counts else first


@dataclass(frozen=True)
class Admission:
    """May a session start now? When not, `reason` is ORG_FLOOR or USER_SHARE."""

    allowed: bool
    reason: str = ""
    # Calls the org would have left above its floor after this session's reservation.
    headroom: int = 0
    share: int = 0


def admit(
    *,
    limit: int,
    used: int,
    reserved: int,
    floor: int,
    estimate: int,
    user_used: int,
    share: int | None,
    reading_reserve: int = 0,
) -> Admission:
    """The decision for one session, given the org's last reading (`used` of `limit`), the calls
    reserved by sessions in flight, the floor in calls, this session's estimate, the calls kept
    for reading the allocation, and the user's use in the last 24 hours against their `share`
    (None: no share applies).

    An unknown allocation (`limit` 0: never read) passes the org's check: the session's own first
    answer tells the usage, and the session's guard keeps `min-api-remaining` (SPEC §7.4).
    """
    headroom = limit - used - reserved - estimate - floor - reading_reserve if limit > 0 else 0
    if headroom < 0:
        return Admission(False, ORG_FLOOR, headroom, share or 0)
    if share is not None and user_used >= share:
        return Admission(False, USER_SHARE, headroom, share)
    return Admission(True, "", headroom, share or 0)


def freed_at(now: datetime, calls: Sequence[Calls], needed: int) -> datetime | None:
    """When at least `needed` of `calls` will have left the 24-hour window (oldest first); None
    when they never add up to `needed`. `needed` ≤ 0 is now."""
    if needed <= 0:
        return now
    freed = 0
    for session in sorted(calls, key=lambda c: c.at):
        freed += max(0, session.count)
        if freed >= needed:
            return max(now, session.at + WINDOW)
    return None


def defer_until(
    now: datetime,
    admission: Admission,
    *,
    org_calls: Sequence[Calls],
    user_calls: Sequence[Calls],
    user_used: int,
    recheck: timedelta,
) -> datetime:
    """When a deferred session is tried again: once enough of the fleet's calls (org floor) or of
    the user's own calls (user share) have aged out of the 24-hour window, and at the latest after
    `recheck`, when the allocation is read again (other integrations' use changes too)."""
    latest = now + recheck
    if admission.reason == ORG_FLOOR:
        back = freed_at(now, org_calls, -admission.headroom)
    else:
        back = freed_at(now, user_calls, user_used - admission.share + 1)
    return latest if back is None else min(latest, max(now, back))


@dataclass(frozen=True)
class Forecast:
    """Where the current rate leads within the next 24 hours."""

    rate_per_hour: float
    # Calls the org will have used 24 hours from now at this rate (calls ageing out not
    # subtracted: an upper bound).
    used_by_window_end: int
    floor_reached: bool
    floor_reached_at: datetime | None


def forecast(now: datetime, *, used: int, limit: int, floor: int, recent: Sequence[Calls]) -> Forecast:
    """Extrapolate the fleet's calls of the last hour (`recent`) over the next 24 hours from the
    org's `used`, and say whether and when the org's floor (`limit - floor` used) is reached."""
    start = now - RATE_LOOKBACK
    in_lookback = sum(max(0, c.count) for c in recent if start < c.at <= now)
    rate = in_lookback / (RATE_LOOKBACK / timedelta(hours=1))
    hours = WINDOW / timedelta(hours=1)
    used_by_end = used + round(rate * hours)
    ceiling = limit - floor
    if limit <= 0:
        return Forecast(rate, used_by_end, False, None)
    if used >= ceiling:
        return Forecast(rate, used_by_end, True, now)
    if rate <= 0 or used_by_end <= ceiling:
        return Forecast(rate, used_by_end, False, None)
    return Forecast(rate, used_by_end, True, now + timedelta(hours=(ceiling - used) / rate))
