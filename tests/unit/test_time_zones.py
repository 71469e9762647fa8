"""Windows ↔ IANA time zone names (SPEC §4.3: meetings keep their times): one mapping, exchangelib's
complete CLDR tables, for the adapters and the emulators alike."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from rgsync.providers.microsoft365.convert import find_zone as graph_find_zone
from rgsync.sandbox.ews.recurrence import windows_id, zone
from rgsync.sandbox.ews.scenario import calendar_spec
from rgsync.sandbox.graph.common import GraphError
from rgsync.sandbox.graph.common import zone as graph_emulator_zone
from rgsync.timezones import find_zone, iana_name, windows_name

ZONES = [
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "Asia/Kolkata",
    "Asia/Calcutta",
    "Asia/Kathmandu",
    "Asia/Dubai",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/New_York",
    "America/Sao_Paulo",
    "America/St_Johns",
    "America/Phoenix",
    "Africa/Johannesburg",
    "Etc/UTC",
]
# Instants across both daylight-saving seasons of both hemispheres.
INSTANTS = [datetime(2026, month, 15, 12, 0, tzinfo=UTC) for month in (1, 4, 7, 10)]


@pytest.mark.parametrize("name", ZONES)
def test_spec_4_3_an_iana_zone_round_trips_through_its_windows_id_to_the_same_clock(name: str) -> None:
    ms_id = windows_name(name)
    assert ms_id is not None, f"{name} has no Windows zone"
    back = find_zone(ms_id)
    assert back is not None
    original = ZoneInfo(name)
    for instant in INSTANTS:
        assert instant.astimezone(back).utcoffset() == instant.astimezone(original).utcoffset(), (
            name,
            ms_id,
            back.key,
            instant,
        )


def test_spec_4_3_kolkata_and_its_old_spelling_are_one_windows_zone() -> None:
    assert windows_name("Asia/Kolkata") == windows_name("Asia/Calcutta") == "India Standard Time"
    india = find_zone("India Standard Time")
    assert india is not None
    assert datetime(2026, 7, 1, 12, tzinfo=UTC).astimezone(india).strftime("%H:%M") == "17:30"


def test_spec_4_3_every_windows_zone_exchange_knows_maps_to_a_zone_python_can_load() -> None:
    from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

    missing = [ms_id for ms_id in MS_TIMEZONE_TO_IANA_MAP if find_zone(ms_id) is None]
    assert missing == []
    assert len(MS_TIMEZONE_TO_IANA_MAP) > 100  # the complete table, not a hand-picked few


def test_spec_4_3_names_that_are_neither_stay_unknown() -> None:
    assert windows_name("Mars/Olympus_Mons") is None
    assert find_zone("Mars/Olympus_Mons") is None and find_zone("") is None
    assert iana_name("Europe/Berlin") == "Europe/Berlin"
    assert graph_find_zone("Arabian Standard Time") == ZoneInfo(iana_name("Arabian Standard Time"))


def test_spec_4_3_the_ews_emulator_keeps_amsterdam_in_its_own_zone() -> None:
    """A scenario meeting in Europe/Amsterdam is stored under Exchange's id for it, not as UTC."""
    assert windows_id("Europe/Amsterdam") == "W. Europe Standard Time"
    assert windows_id("Asia/Kolkata") == "India Standard Time"
    event = {
        "summary": "Canal walk",
        "start": {"dateTime": "2026-07-01T10:00:00+02:00", "timeZone": "Europe/Amsterdam"},
        "end": {"dateTime": "2026-07-01T11:00:00+02:00", "timeZone": "Europe/Amsterdam"},
    }
    spec = calendar_spec(event, "ann@acme.com", "UTC")
    assert spec["timezone"] == "W. Europe Standard Time"
    assert datetime(2026, 7, 1, 8, tzinfo=UTC).astimezone(zone(spec["timezone"])).hour == 10


def test_spec_4_3_the_graph_emulator_accepts_any_windows_zone_outlook_sends() -> None:
    assert graph_emulator_zone("Nepal Standard Time").utcoffset(datetime(2026, 1, 1)) is not None
    with pytest.raises(GraphError):
        graph_emulator_zone("Mars Standard Time")


@pytest.mark.parametrize("name", ["America", "Europe/", "../../etc/passwd", "Nowhere Standard Time"])
def test_a_name_that_is_no_zone_is_none(name: str) -> None:
    """A folder of the tz database, a path, or an unknown Windows id is no zone, not an error."""
    assert find_zone(name) is None


def test_iana_names_are_found_without_importing_exchangelib() -> None:
    """A Microsoft 365 session meets only IANA names (Graph answers in the zone asked for): looking
    them up must not import exchangelib, about a fifth of a second of every session's start."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from rgsync.timezones import find_zone\n"
        "assert find_zone('Europe/Berlin').key == 'Europe/Berlin'\n"
        "assert find_zone('UTC') is not None\n"
        "assert 'exchangelib' not in sys.modules, 'exchangelib was imported'\n"
        "assert find_zone('W. Europe Standard Time').key == 'Europe/Berlin'\n"
        "assert find_zone('UTC-11').key == 'Etc/GMT+11'  # a Windows id without a space\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
