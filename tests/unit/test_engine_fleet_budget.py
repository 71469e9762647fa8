"""The fleet's share of the org's daily API allocation (SPEC §11 org API budget, §7.4 floor)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rgsync.engine import fleet_budget as rules

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_spec_7_4_floor_is_min_api_remaining_of_the_allocation_in_whole_calls_rounded_up() -> None:
    assert rules.floor_calls(100_000, 10) == 10_000
    assert rules.floor_calls(1_005, 10) == 101  # 100.5 calls: the floor is never undercut
    assert rules.floor_calls(1_000, 0) == 0
    assert rules.floor_calls(0, 10) == 0


def test_spec_11_fair_share_splits_what_is_left_above_the_floor_after_other_integrations() -> None:
    # 100,000 a day, floor 10,000, other integrations used 30,000: 60,000 among 12 users.
    assert rules.fair_share(100_000, 10_000, 30_000, 12, cap=0) == 5_000
    # The per-user cap of the policy bounds the share; a cap above the even share changes nothing.
    assert rules.fair_share(100_000, 10_000, 30_000, 12, cap=2_000) == 2_000
    assert rules.fair_share(100_000, 10_000, 30_000, 12, cap=9_000) == 5_000
    # Other integrations above the floor leave the fleet nothing; no users counts as one.
    assert rules.fair_share(100_000, 10_000, 95_000, 12, cap=0) == 0
    assert rules.fair_share(1_000, 100, -5, 0, cap=0) == 900


def test_spec_11_a_session_reserves_its_users_largest_recent_session_or_the_first_session_figure() -> None:
    assert rules.session_estimate([]) == rules.FIRST_SESSION_ESTIMATE
    assert rules.session_estimate([3, 12, 1]) == 12
    assert rules.session_estimate([0, 0]) == 1


def _admit(**overrides: int | None) -> rules.Admission:
    figures: dict[str, int | None] = dict(
        limit=1_000, used=800, reserved=0, floor=100, estimate=20, user_used=0, share=50
    )
    figures.update(overrides)
    return rules.admit(**figures)  # type: ignore[arg-type]


def test_spec_11_admission_keeps_the_org_above_its_floor_counting_sessions_in_flight() -> None:
    # 800 used + 20 estimated leaves 180 ≥ floor 100: admitted, 80 calls of headroom.
    assert _admit() == rules.Admission(True, "", 80, 50)
    # Exactly at the floor is allowed; one call past it is not.
    assert _admit(used=880).allowed
    refused = _admit(used=881)
    assert (refused.allowed, refused.reason, refused.headroom) == (False, rules.ORG_FLOOR, -1)
    # Reservations of sessions in flight count as spent.
    assert _admit(reserved=80).allowed
    assert _admit(reserved=81).reason == rules.ORG_FLOOR


def test_spec_11_a_user_who_used_their_share_is_deferred_even_when_the_org_has_room() -> None:
    assert _admit(user_used=49).allowed  # a session starts while some share is left
    over = _admit(user_used=50)
    assert (over.allowed, over.reason) == (False, rules.USER_SHARE)
    # The org's floor is the first reason given when both hold.
    assert _admit(user_used=50, used=990).reason == rules.ORG_FLOOR


def test_spec_11_an_allocation_never_read_admits_unless_the_cap_is_used() -> None:
    assert _admit(limit=0, used=0, share=None).allowed
    assert _admit(limit=0, used=0, share=300, user_used=300).reason == rules.USER_SHARE


def test_spec_11_deferred_until_enough_of_the_fleets_calls_leave_the_24_hour_window() -> None:
    calls = [
        rules.Calls(NOW - timedelta(hours=23), 10),
        rules.Calls(NOW - timedelta(hours=20), 30),
        rules.Calls(NOW - timedelta(hours=1), 50),
    ]
    short = _admit(used=900)  # headroom -20: 20 calls must age out
    until = rules.defer_until(
        NOW, short, org_calls=calls, user_calls=[], user_used=0, recheck=timedelta(hours=6)
    )
    assert until == NOW + timedelta(hours=4)  # 10 calls at 13:00 are not enough, 40 at 16:00 are
    # The recheck period bounds the wait: the allocation is read again then.
    soon = rules.defer_until(
        NOW, short, org_calls=calls, user_calls=[], user_used=0, recheck=timedelta(hours=2)
    )
    assert soon == NOW + timedelta(hours=2)
    # Nothing of the fleet's to age out (another integration spent it): the recheck period.
    assert rules.defer_until(
        NOW, short, org_calls=[], user_calls=[], user_used=0, recheck=timedelta(minutes=15)
    ) == NOW + timedelta(minutes=15)


def test_spec_11_a_user_over_their_share_waits_for_their_own_calls_to_age_out() -> None:
    user_calls = [rules.Calls(NOW - timedelta(hours=22), 30), rules.Calls(NOW - timedelta(hours=3), 30)]
    over = _admit(user_used=60)  # share 50: 11 calls must leave the window
    until = rules.defer_until(
        NOW, over, org_calls=[], user_calls=user_calls, user_used=60, recheck=timedelta(hours=12)
    )
    assert until == NOW + timedelta(hours=2)


def test_spec_11_forecast_extrapolates_the_last_hour_and_says_when_the_floor_is_reached() -> None:
    recent = [rules.Calls(NOW - timedelta(minutes=m), 250) for m in (10, 30, 50)]  # 750 an hour
    recent.append(rules.Calls(NOW - timedelta(hours=3), 10_000))  # outside the last hour
    outlook = rules.forecast(NOW, used=40_000, limit=100_000, floor=10_000, recent=recent)
    assert outlook.rate_per_hour == 750
    assert outlook.used_by_window_end == 40_000 + 18_000
    assert (outlook.floor_reached, outlook.floor_reached_at) == (False, None)
    # At 3,000 an hour the 50,000 calls left above the floor last 16 h 40 min.
    busy = [rules.Calls(NOW - timedelta(minutes=5), 3_000)]
    outlook = rules.forecast(NOW, used=40_000, limit=100_000, floor=10_000, recent=busy)
    assert outlook.floor_reached
    assert outlook.floor_reached_at == NOW + timedelta(hours=16, minutes=40)
    # Already at the floor: reached now; no allocation read yet: nothing to say.
    assert rules.forecast(NOW, used=95_000, limit=100_000, floor=10_000, recent=[]).floor_reached_at == NOW
    assert not rules.forecast(NOW, used=0, limit=0, floor=0, recent=busy).floor_reached


def test_spec_11_reads_of_the_allocation_are_kept_above_the_floor_and_only_while_there_is_room() -> None:
    # One read per 15 minutes for a day, at most 1 % of the allocation, at least one.
    assert rules.reading_reserve(100_000, timedelta(minutes=15)) == 96
    assert rules.reading_reserve(1_000, timedelta(seconds=2)) == 10
    assert rules.reading_reserve(50, timedelta(hours=1)) == 1
    assert _admit(used=870, reading_reserve=10).allowed  # 1,000 - 870 - 20 - 100 - 10 = 0
    assert not _admit(used=871, reading_reserve=10).allowed
    # A read needs one call of room above the floor by the last reading (or no reading at all).
    assert rules.may_read_allocation(1_000, 880, 19, 100)
    assert not rules.may_read_allocation(1_000, 880, 20, 100)
    assert rules.may_read_allocation(0, 0, 0, 0)
    # The fleet's own calls that left the window since the reading make room again…
    assert rules.may_read_allocation(1_000, 900, 0, 100, aged_out=1)
    assert not rules.may_read_allocation(1_000, 900, 0, 100, aged_out=0, reading_age=timedelta(hours=23))
    # …and a reading a whole day old no longer stands for the org's use.
    assert rules.may_read_allocation(1_000, 900, 0, 100, reading_age=timedelta(hours=24))
