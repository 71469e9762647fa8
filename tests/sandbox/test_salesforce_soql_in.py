"""SOQL `IN` / `NOT IN` in the Salesforce emulator: the set lookup answers like one-by-one `=`.

The emulator matches `IN` lists through a set; these tests compare it with comparing each row
with each listed value, on random data, and check SOQL's own rules survive: text compares
case-insensitively, Ids match in either their 15- or 18-character spelling, null never matches
a value.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgsync.sandbox.salesforce import SalesforceEmulator, load_scenario
from rgsync.sandbox.salesforce.clock import ManualClock
from rgsync.sandbox.salesforce.soql import run
from rgsync.sandbox.salesforce.soql.compare import _compare, _DayRange
from rgsync.sandbox.salesforce.soql.evaluator import _membership
from rgsync.sandbox.salesforce.store import Org
from tests.sandbox.salesforce_support import NOW, SCENARIO

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, 2.5, -1.5]),
    st.sampled_from(["", "a", "b", "bob@globex.com"]),
    st.sampled_from([date(2026, 11, 28), date(2026, 1, 1)]),
)
operand = st.one_of(
    scalar,
    st.just(_DayRange(date(2026, 11, 1), date(2026, 11, 30))),
    st.lists(st.integers(0, 2), max_size=2),  # unhashable: kept one by one
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(scalar, st.lists(st.integers(0, 2), max_size=2)), max_size=8),
    st.lists(operand, min_size=1, max_size=6),
    st.booleans(),
)
def test_set_membership_equals_comparing_each_value(
    values: list[Any], operands: list[Any], inside: bool
) -> None:
    """SPEC §10 (sandbox at scale): the set path gives the brute-force answer on every value."""
    match = _membership(lambda row: row["v"], operands, inside=inside)
    for v in values:
        try:
            expected = any(_compare(v, "=", o) for o in operands) == inside
        except TypeError:
            # A date range against a non-date (never produced by a query): fails the same way.
            with pytest.raises(TypeError):
                match({"v": v})
            continue
        assert match({"v": v}) == expected


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from(["bob", "Carol", "DAVE", "erin", "zed"]), min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=8, max_size=8),
    st.booleans(),
)
def test_in_on_emails_and_ids_matches_the_reference(
    spellings: list[str], short_ids: list[bool], negated: bool
) -> None:
    """SOQL text IN is case-insensitive and Id IN accepts 15-character Ids, through the set path."""
    org = Org(clock=ManualClock(NOW))
    load_scenario(SalesforceEmulator(org), SCENARIO)
    contacts = org.records("Contact")
    wanted_emails = {f"{s.lower()}@globex.com" for s in spellings}
    listed = ", ".join(f"'{s.upper() if i % 2 else s}@GLOBEX.com'" for i, s in enumerate(spellings))
    op = "NOT IN" if negated else "IN"
    got = {r["Id"] for r in run(org, f"SELECT Id FROM Contact WHERE Email {op} ({listed})").records}
    expected = {
        c["Id"]
        for c in contacts
        if c.get("Email") is not None and ((c["Email"].lower() in wanted_emails) != negated)
    }
    if negated:
        # NOT IN keeps rows whose value is null too (null equals none of the values).
        expected |= {c["Id"] for c in contacts if c.get("Email") is None}
    assert got == expected

    picked = [c["Id"] for c in contacts][::2]
    spelled = [i[:15] if short else i for i, short in zip(picked, short_ids, strict=False)]
    ids_listed = ", ".join(f"'{i}'" for i in spelled)
    got_ids = {r["Id"] for r in run(org, f"SELECT Id FROM Contact WHERE Id {op} ({ids_listed})").records}
    assert got_ids == ({c["Id"] for c in contacts} - set(picked) if negated else set(picked))
