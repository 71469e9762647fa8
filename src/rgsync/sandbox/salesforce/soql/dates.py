"""SOQL's relative date literals as day ranges: TODAY, THIS_WEEK, LAST_N_DAYS:n and the rest.

`_RELATIVE_FIXED` maps a literal to (first day, last day) from today; `_RELATIVE_N` does the same
for the literals that take `:n`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta


def _week_start(day: date) -> date:
    return day - timedelta(days=(day.weekday() + 1) % 7)  # weeks start on Sunday (en_US locale)


def _month_range(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def _shift_month(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


_RELATIVE_FIXED: dict[str, Callable[[date], tuple[date, date]]] = {
    "TODAY": lambda t: (t, t),
    "YESTERDAY": lambda t: (t - timedelta(days=1),) * 2,
    "TOMORROW": lambda t: (t + timedelta(days=1),) * 2,
    "THIS_WEEK": lambda t: (_week_start(t), _week_start(t) + timedelta(days=6)),
    "LAST_WEEK": lambda t: (_week_start(t) - timedelta(days=7), _week_start(t) - timedelta(days=1)),
    "NEXT_WEEK": lambda t: (_week_start(t) + timedelta(days=7), _week_start(t) + timedelta(days=13)),
    "THIS_MONTH": lambda t: _month_range(t.year, t.month),
    "LAST_MONTH": lambda t: _month_range(*_shift_month(t, -1)),
    "NEXT_MONTH": lambda t: _month_range(*_shift_month(t, 1)),
    "THIS_YEAR": lambda t: (date(t.year, 1, 1), date(t.year, 12, 31)),
    "LAST_90_DAYS": lambda t: (t - timedelta(days=90), t),
    "NEXT_90_DAYS": lambda t: (t + timedelta(days=1), t + timedelta(days=90)),
}
_RELATIVE_N: dict[str, Callable[[date, int], tuple[date, date]]] = {
    # "Includes today": from n days ago through today.
    "LAST_N_DAYS": lambda t, n: (t - timedelta(days=n), t),
    # Starts tomorrow, n days long; today is not included.
    "NEXT_N_DAYS": lambda t, n: (t + timedelta(days=1), t + timedelta(days=n)),
    "N_DAYS_AGO": lambda t, n: (t - timedelta(days=n),) * 2,
    "N_DAYS_FROM_NOW": lambda t, n: (t + timedelta(days=n),) * 2,
}
