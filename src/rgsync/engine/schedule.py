"""When the next session is due (SPEC §2 step 2, §7.2 cadence, §7.4 API budget back-off).

Pure: the session reads what the last sessions left in the state store, passes `now`, and
stores what these functions return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Back-off after the API budget guard stops a session (SPEC §7.4): 30 min, 2.5 h, 4.5 h, then 4.5 h.
BUDGET_BACKOFF = (timedelta(minutes=30), timedelta(hours=2, minutes=30), timedelta(hours=4, minutes=30))
# The adaptive interval grows up to this many times `interval-minutes` (SPEC §7.2).
MAX_GAP_FACTOR = 4


def is_due(now: datetime, next_due_at: datetime | None, *, forced: bool = False) -> bool:
    """Whether a session started at `now` should sync (SPEC §2 step 2): `--force` (and a manual
    save or a dry run, which the caller passes as `forced`) ignores the due time; without one
    recorded, a session is always due."""
    return forced or next_due_at is None or now >= next_due_at


def budget_backoff(stops_in_a_row: int) -> timedelta:
    """How long to wait after the API budget guard stopped a session (SPEC §7.4): 30 min, 2.5 h,
    4.5 h, and 4.5 h from then on. `stops_in_a_row` counts the earlier stops (0 for the first)."""
    return BUDGET_BACKOFF[min(max(stops_in_a_row, 0), len(BUDGET_BACKOFF) - 1)]


@dataclass(frozen=True)
class NextSession:
    """What a finished session decides about the next one (the session stores it)."""

    gap: timedelta
    due_at: datetime
    # True once a session ended without the budget guard: the back-off sequence starts over.
    reset_backoff: bool


def adaptive_interval(
    now: datetime,
    interval: timedelta,
    previous_gap: timedelta | None,
    *,
    changed: bool,
    failed: bool,
    budget_stopped: bool,
    backoff_until: datetime | None = None,
) -> NextSession:
    """The adaptive interval (SPEC §7.2) and the budget back-off (SPEC §7.4).

    A session with changes (or the first one) keeps `interval-minutes`; each idle session doubles
    the gap up to 4 × the interval. A failed or budget-stopped session goes back to the interval,
    and a budget stop waits at least until its back-off ends.
    """
    if changed or previous_gap is None:
        gap = interval
    else:
        gap = min(previous_gap * 2, interval * MAX_GAP_FACTOR)
    if failed or budget_stopped:
        gap = interval
    due_at = now + gap
    if budget_stopped and backoff_until is not None:
        due_at = max(due_at, backoff_until)
    return NextSession(gap=gap, due_at=due_at, reset_backoff=not budget_stopped)
