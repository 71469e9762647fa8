"""The service's own "wait this long" hint, read one way for every provider (SPEC §7.3).

Google, Microsoft Graph and Salesforce send an HTTP `Retry-After` header: delta-seconds ("30",
and in practice "1.5" too) or an HTTP-date (RFC 9110 §10.2.3). Exchange sends
`BackOffMilliseconds` in its ErrorServerBusy answer, which exchangelib hands over already in
seconds. Whatever the form, the session's retry policy gets seconds as a float, or None when there
was no usable hint (it then backs off on its own).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["header_retry_after", "retry_after_seconds"]


def retry_after_seconds(value: object, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from one Retry-After value (or a number of seconds); None when unusable.

    Accepts delta-seconds with or without a fraction ("120", "1.5"), an HTTP-date (a date in the
    past means "now": 0.0) and plain numbers. Negative, infinite or unreadable values are None:
    a broken hint must not make rgsync wait forever or not at all.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def header_retry_after(headers: Mapping[str, str] | None, *, now: datetime | None = None) -> float | None:
    """Seconds from the Retry-After header of a response (header names in any case); None if absent."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    return retry_after_seconds(value, now=now)
