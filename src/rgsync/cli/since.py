"""The `--since WHEN` values shared by commands: a duration back from now or a date/time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from rgsync.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h|hr|d|day|days|w|wk|weeks?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A century is further back than any issue log goes, and far inside what a datetime can hold.
_SINCE_MAX_DAYS = 36500
_SINCE_MAX_SECONDS = _SINCE_MAX_DAYS * 86400


def parse_since(text: str, now: datetime) -> datetime:
    """A `--since` value as an aware datetime: a duration back from `now` ('7d', '12h', '30m', '2w')
    or an ISO date/time ('2024-05-01', '2024-05-01T09:00', with or without an offset; local time
    when none is given). Anything else is a `UsageError`.
    """
    match = _DURATION.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        seconds = amount * _UNIT_SECONDS[unit[0]]
        if seconds > _SINCE_MAX_SECONDS:
            raise UsageError(
                f"--since {text.strip()} reaches too far back; give at most {_SINCE_MAX_DAYS}d "
                "(or a date such as 2024-05-01)"
            )
        return now - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since {text!r} is neither a date nor a duration; use e.g. 2024-05-01, 2024-05-01T09:00, 7d or 12h"
        ) from None
    # A date or time without an offset means the user's own clock.
    try:
        return parsed if parsed.tzinfo else parsed.astimezone()
    except (OverflowError, OSError, ValueError):
        raise UsageError(f"--since {text.strip()} is out of range; give a date such as 2024-05-01") from None
