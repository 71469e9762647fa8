"""The service's Retry-After / BackOffMilliseconds hint, read one way for every provider (SPEC §7.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rgsync.providers.google.api import retry_after as google_retry_after
from rgsync.providers.microsoft365.client import retry_after as graph_retry_after
from rgsync.providers.retry_hint import header_retry_after, retry_after_seconds

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), ("0", 0.0), ("1.5", 1.5), (" 7 ", 7.0), (2.5, 2.5), (3, 3)],
)
def test_spec_7_3_delta_seconds_with_or_without_a_fraction(value: object, seconds: float) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


def test_spec_7_3_an_http_date_is_the_time_left_until_then() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(later, now=NOW) == 90.0
    earlier = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert retry_after_seconds(earlier, now=NOW) == 0.0
    assert retry_after_seconds("Sat, 28 Nov 2026 09:00:30 -0000", now=NOW) == 30.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "nan", "inf", "1e999", True, -1.0, float("nan")])
def test_spec_7_3_an_unusable_hint_is_no_hint(value: object) -> None:
    assert retry_after_seconds(value, now=NOW) is None


def test_spec_7_3_every_provider_reads_the_header_the_same_way() -> None:
    """Google used to refuse "1.5"; Graph and Salesforce read it; now all share one reader."""
    for headers in ({"Retry-After": "1.5"}, {"retry-after": "1.5"}, {"RETRY-AFTER": "1.5"}):
        assert header_retry_after(headers) == 1.5
        assert google_retry_after(headers) == 1.5
        assert graph_retry_after(headers) == 1.5
    assert header_retry_after({}) is None and header_retry_after(None) is None


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_spec_7_3_any_non_negative_seconds_value_reads_back(seconds: float) -> None:
    assert retry_after_seconds(repr(seconds)) == seconds
