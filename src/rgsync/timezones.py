"""Windows and IANA time zone names, both ways, from exchangelib's complete CLDR tables.

Exchange and Microsoft 365 name zones the Windows way ("W. Europe Standard Time"); Python, Google
and Salesforce the IANA way ("Europe/Berlin"). exchangelib ships the full Unicode CLDR mapping
(every Windows zone and every IANA name with its territory), so rgsync keeps no table of its own.

This module is a leaf like `model`: it imports only the standard library and, lazily, the two
tables from `exchangelib.winzone` (importing exchangelib costs about half a second, which a run
that never meets a Windows zone name should not pay).
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["find_zone", "iana_name", "windows_name"]


@cache
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    """(Windows id → IANA name, IANA name → Windows id), as exchangelib publishes them."""
    from exchangelib.winzone import IANA_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP

    to_iana = dict(MS_TIMEZONE_TO_IANA_MAP)
    to_windows = {iana: ms_id for iana, (ms_id, _territory) in IANA_TO_MS_TIMEZONE_MAP.items()}
    return to_iana, to_windows


def iana_name(name: str) -> str:
    """The IANA name for a Windows zone id; any other name is returned unchanged.

    CLDR keeps the older IANA spelling of a few zones ("India Standard Time" → "Asia/Calcutta");
    both spellings are links to the same rules in the tz database.
    """
    return _tables()[0].get(name.strip(), name.strip())


def windows_name(name: str) -> str | None:
    """The Windows zone id for an IANA name (or a Windows id, returned as is); None when unknown.

    `Etc/UTC`, `UTC` and the other UTC aliases all give "UTC".
    """
    to_iana, to_windows = _tables()
    key = name.strip()
    if key in to_iana:
        return key
    return to_windows.get(key)


def find_zone(name: str | None) -> ZoneInfo | None:
    """The zone for an IANA name or a Windows zone id; None when it is neither.

    An IANA name is tried first, without the tables: the only Windows id that is also an IANA
    name is "UTC", which means UTC both ways, and a session that only meets IANA names (Graph
    answers in the zone rgsync asks for) then never pays for importing exchangelib.
    """
    if not name or not name.strip():
        return None
    key = name.strip()
    if " " not in key:  # every Windows id but "UTC" and the "UTC±hh" ones has a space
        zone = _iana_zone(key)
        if zone is not None:
            return zone
    mapped = iana_name(key)
    # Unmapped, the name was tried above (or has a space, which no IANA name has).
    return _iana_zone(mapped) if mapped != key else None


def _iana_zone(key: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of the tz database
        return None
