"""Windows and IANA time zone names for the Exchange and Graph emulators.

The services name zones the Windows way ("W. Europe Standard Time") and accept IANA names too.
The emulators read the Unicode CLDR mapping that exchangelib publishes directly, instead of
borrowing the product's own translation: an emulator that leaned on the code under test would
agree with that code's mistakes.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@cache
def _cldr() -> tuple[dict[str, str], dict[str, str]]:
    """(Windows id → IANA name, IANA name → Windows id); exchangelib is loaded on first use."""
    from exchangelib.winzone import IANA_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP

    return dict(MS_TIMEZONE_TO_IANA_MAP), {
        iana: windows for iana, (windows, _territory) in IANA_TO_MS_TIMEZONE_MAP.items()
    }


def zone_named(name: str | None) -> ZoneInfo | None:
    """The zone for a Windows id or an IANA name, as the services accept both; None when unknown."""
    key = (name or "").strip()
    if not key:
        return None
    try:
        return ZoneInfo(_cldr()[0].get(key, key))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def windows_id_of(name: str) -> str | None:
    """The Windows id Exchange reports for an IANA name (a Windows id is returned as is)."""
    key = name.strip()
    to_iana, to_windows = _cldr()
    return key if key in to_iana else to_windows.get(key)
