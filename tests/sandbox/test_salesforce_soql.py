"""SOQL semantics of the Salesforce emulator, run straight against the org (no sockets)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from rgsync.sandbox.salesforce import SalesforceEmulator, load_scenario
from rgsync.sandbox.salesforce.clock import ManualClock
from rgsync.sandbox.salesforce.soql import QueryError, run
from rgsync.sandbox.salesforce.store import Org
from tests.sandbox.salesforce_support import NOW, SCENARIO


@pytest.fixture
def world() -> tuple[Org, dict[str, str]]:
    org = Org(clock=ManualClock(NOW))
    keys = load_scenario(SalesforceEmulator(org), SCENARIO)
    return org, keys


def names(org: Org, soql: str, **kwargs: Any) -> list[str]:
    return [r.get("LastName") or r.get("Name") or r.get("Subject") for r in run(org, soql, **kwargs).records]


def refused(org: Org, soql: str) -> QueryError:
    with pytest.raises(QueryError) as caught:
        run(org, soql)
    return caught.value


def test_equality_on_text_is_case_insensitive(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    assert names(org, "SELECT LastName FROM Contact WHERE Email = 'BOB@GLOBEX.COM'") == ["Stone"]


def test_not_equal_both_spellings_and_null_fields(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    org.insert("Contact", {"LastName": "Nomail"})
    assert sorted(names(org, "SELECT LastName FROM Contact WHERE Email != 'bob@globex.com'")) == [
        "Mills",
        "Nomail",
        "Reed",
    ]
    assert names(org, "SELECT LastName FROM Contact WHERE Email <> null ORDER BY LastName") == [
        "Mills",
        "Reed",
        "Stone",
    ]
    assert names(org, "SELECT LastName FROM Contact WHERE Email = null") == ["Nomail"]


def test_and_binds_within_parentheses_and_mixing_without_them_is_refused(
    world: tuple[Org, dict[str, str]],
) -> None:
    org, _ = world
    soql = "SELECT LastName FROM Contact WHERE (FirstName = 'Bob' OR FirstName = 'Dave') AND Account.Name = 'Initech'"
    assert names(org, soql) == ["Mills"]
    soql = "SELECT LastName FROM Contact WHERE FirstName = 'Bob' OR (FirstName = 'Dave' AND Account.Name = 'Globex')"
    assert names(org, soql) == ["Stone"]
    error = refused(
        org, "SELECT Id FROM Contact WHERE FirstName = 'Bob' OR FirstName = 'Dave' AND LastName = 'x'"
    )
    assert error.code == "MALFORMED_QUERY"
    assert "unexpected token: 'AND'" in error.errors[0].message


def test_not_negates_a_group(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    soql = "SELECT LastName FROM Contact WHERE NOT (Account.Name = 'Globex') ORDER BY LastName"
    assert names(org, soql) == ["Mills"]


def test_in_and_not_in_lists(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    soql = (
        f"SELECT LastName FROM Contact WHERE Id IN ('{keys['bob']}', '{keys['dave'][:15]}') ORDER BY LastName"
    )
    assert names(org, soql) == ["Mills", "Stone"]
    assert names(org, "SELECT LastName FROM Contact WHERE FirstName NOT IN ('Bob', 'Dave')") == ["Reed"]


def test_like_wildcards_and_escapes(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    org.insert("Account", {"Name": "100% Juice"})
    org.insert("Account", {"Name": "O'Brien & Sons"})
    assert names(org, "SELECT Name FROM Account WHERE Name LIKE 'glo%'") == ["Globex"]
    assert names(org, "SELECT Name FROM Account WHERE Name LIKE '_nitech'") == ["Initech"]
    assert names(org, "SELECT Name FROM Account WHERE Name LIKE '%\\%%'") == ["100% Juice"]
    assert names(org, "SELECT Name FROM Account WHERE Name = 'O\\'Brien & Sons'") == ["O'Brien & Sons"]


def test_unknown_escape_is_malformed(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    error = refused(org, "SELECT Id FROM Account WHERE Name = 'a\\qb'")
    assert error.code == "MALFORMED_QUERY"


def test_number_boolean_and_date_literals(world: tuple[Org, dict[str, str]]) -> None:
    org, _keys = world
    org.insert(
        "Opportunity", {"Name": "Big", "StageName": "Closed Won", "CloseDate": "2026-10-01", "Amount": 50000}
    )
    assert names(org, "SELECT Name FROM Opportunity WHERE Amount >= 1000.5") == ["Big"]
    assert names(org, "SELECT Name FROM Opportunity WHERE IsWon = true") == ["Big"]
    assert names(org, "SELECT Name FROM Opportunity WHERE CloseDate < 2026-11-01") == ["Big"]
    assert names(org, "SELECT Name FROM Opportunity WHERE CreatedDate >= 2026-11-28T11:00:00Z") == [
        "Globex renewal",
        "Big",
    ]
    assert names(org, "SELECT Name FROM Opportunity WHERE CreatedDate > 2026-11-28T11:59:59+01:00") == [
        "Globex renewal",
        "Big",
    ]
    assert names(org, "SELECT Name FROM Opportunity WHERE CreatedDate > 2026-11-28T12:00:00+01:00") == []


def test_literal_of_the_wrong_type_is_refused(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    assert refused(org, "SELECT Id FROM Contact WHERE LastName = 5").code == "INVALID_QUERY_FILTER_OPERATOR"
    error = refused(org, "SELECT Id FROM Contact WHERE CreatedDate = 2026-11-28")
    assert "must be of type dateTime" in error.errors[0].message
    assert (
        refused(org, "SELECT Id FROM Contact WHERE Id = 'nonsense'").code == "INVALID_QUERY_FILTER_OPERATOR"
    )


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("TODAY", ["today"]),
        ("YESTERDAY", ["yesterday"]),
        ("TOMORROW", ["tomorrow"]),
        ("LAST_N_DAYS:3", ["today", "yesterday", "three days ago"]),
        ("NEXT_N_DAYS:2", ["tomorrow"]),
        ("N_DAYS_AGO:3", ["three days ago"]),
        ("THIS_MONTH", ["today", "yesterday", "tomorrow", "three days ago"]),
        ("LAST_MONTH", ["in October"]),
    ],
)
def test_relative_date_literals_follow_the_injected_today(
    world: tuple[Org, dict[str, str]], literal: str, expected: list[str]
) -> None:
    org, _ = world
    for subject, day in [
        ("today", "2026-11-28"),
        ("yesterday", "2026-11-27"),
        ("tomorrow", "2026-11-29"),
        ("three days ago", "2026-11-25"),
        ("in October", "2026-10-15"),
        ("in December", "2026-12-05"),
    ]:
        org.insert("Task", {"Subject": subject, "ActivityDate": day})
    found = names(org, f"SELECT Subject FROM Task WHERE ActivityDate = {literal}")
    assert sorted(found) == sorted(expected)


def test_relative_literals_on_date_times_and_ranges(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    assert len(run(org, "SELECT Id FROM Contact WHERE CreatedDate = TODAY").records) == 3
    assert run(org, "SELECT Id FROM Contact WHERE CreatedDate > TODAY").records == []
    assert len(run(org, "SELECT Id FROM Contact WHERE CreatedDate < TOMORROW").records) == 3
    assert run(org, "SELECT Id FROM Contact WHERE CreatedDate = TODAY", today=date(2026, 12, 1)).records == []


def test_order_by_with_nulls_and_several_keys(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    org.insert("Contact", {"LastName": "Zed"})
    assert names(org, "SELECT LastName FROM Contact ORDER BY Email") == ["Zed", "Stone", "Reed", "Mills"]
    assert names(org, "SELECT LastName FROM Contact ORDER BY Email DESC") == ["Mills", "Reed", "Stone", "Zed"]
    assert names(org, "SELECT LastName FROM Contact ORDER BY Email ASC NULLS LAST") == [
        "Stone",
        "Reed",
        "Mills",
        "Zed",
    ]
    assert names(org, "SELECT LastName FROM Contact ORDER BY Account.Name DESC NULLS LAST, LastName") == [
        "Mills",
        "Reed",
        "Stone",
        "Zed",
    ]


def test_limit_and_offset(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    assert names(org, "SELECT LastName FROM Contact ORDER BY LastName LIMIT 2") == ["Mills", "Reed"]
    assert names(org, "SELECT LastName FROM Contact ORDER BY LastName LIMIT 1 OFFSET 2") == ["Stone"]
    assert refused(org, "SELECT Id FROM Contact OFFSET 2001").code == "NUMBER_OUTSIDE_VALID_RANGE"


def test_parent_fields_nest_like_salesforce(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    org.insert("Contact", {"LastName": "Orphan"})
    records = run(
        org, "SELECT Name, Account.Name, Account.Owner.Email FROM Contact ORDER BY LastName"
    ).records
    dave = records[0]
    assert dave["Account"]["Name"] == "Initech"
    assert dave["Account"]["Owner"]["Email"] == "frank@acme.com"
    assert dave["Account"]["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{keys['initech']}",
    }
    orphan = records[1]
    assert orphan["Account"] is None


def test_polymorphic_who_and_what_names(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    org.insert("Task", {"Subject": "Call", "WhoId": keys["erin"], "WhatId": keys["o1"]})
    record = run(org, "SELECT Who.Name, What.Name FROM Task").records[0]
    assert record["Who"]["attributes"]["type"] == "Lead"
    assert record["Who"]["Name"] == "Erin Hale"
    assert record["What"]["Name"] == "Globex renewal"


def test_count_forms(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    result = run(org, "SELECT COUNT() FROM Contact WHERE Account.Name = 'Globex'")
    assert (result.total_size, result.records) == (2, [])
    result = run(org, "SELECT COUNT(Id) total FROM Contact")
    assert result.records == [{"attributes": {"type": "AggregateResult"}, "total": 3}]
    assert refused(org, "SELECT COUNT(), Name FROM Contact").code == "MALFORMED_QUERY"


def test_semi_join_and_child_subquery(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    org.insert("Task", {"Subject": "Call", "TaskWhoIds": [keys["bob"], keys["dave"]]})
    assert names(
        org,
        "SELECT LastName FROM Contact WHERE Id IN (SELECT RelationId FROM TaskRelation) ORDER BY LastName",
    ) == [
        "Mills",
        "Stone",
    ]
    assert names(org, "SELECT LastName FROM Contact WHERE Id NOT IN (SELECT WhoId FROM Task)") == [
        "Reed",
        "Mills",
    ]
    record = run(org, "SELECT Subject, (SELECT RelationId FROM TaskRelations) FROM Task").records[0]
    assert {r["RelationId"] for r in record["TaskRelations"]["records"]} == {keys["bob"], keys["dave"]}


def test_query_all_sees_deleted_records(world: tuple[Org, dict[str, str]]) -> None:
    org, keys = world
    org.delete(keys["carol"])
    assert "Reed" not in names(org, "SELECT LastName FROM Contact")
    rows = run(
        org, "SELECT LastName, IsDeleted FROM Contact WHERE IsDeleted = true", include_deleted=True
    ).records
    assert [(r["LastName"], r["IsDeleted"]) for r in rows] == [("Reed", True)]


@pytest.mark.parametrize(
    ("soql", "code", "token"),
    [
        ("SELECT Id FRM Contact", "MALFORMED_QUERY", "'FRM'"),
        ("SELECT Id, FROM Contact", "MALFORMED_QUERY", "'FROM'"),
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY", "'<EOF>'"),
        ("SELECT Id FROM Contact WHERE Name = 'x' ORDER Name", "MALFORMED_QUERY", "'Name'"),
        ("SELECT Id FROM Contact LIMIT ten", "MALFORMED_QUERY", "'ten'"),
        ("SELECT Id FROM Contact WHERE Name = 'open", "MALFORMED_QUERY", "unterminated"),
        ("SELECT Id FROM Contact WHERE Name == 'x'", "MALFORMED_QUERY", "'='"),
        ("SELECT Nmae FROM Contact", "INVALID_FIELD", "No such column 'Nmae' on entity 'Contact'"),
        ("SELECT Acount.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'Acount'"),
        ("SELECT Id FROM Contcat", "INVALID_TYPE", "sObject type 'Contcat' is not supported"),
        ("SELECT Id, Id FROM Contact", "MALFORMED_QUERY", "duplicate field selected: Id"),
    ],
)
def test_bad_queries_name_the_offending_token(
    world: tuple[Org, dict[str, str]], soql: str, code: str, token: str
) -> None:
    org, _ = world
    error = refused(org, soql)
    assert error.code == code
    assert token in error.errors[0].message
    assert "ERROR at Row:1:Column:" in error.errors[0].message or code == "MALFORMED_QUERY"


def test_error_caret_points_at_the_column(world: tuple[Org, dict[str, str]]) -> None:
    org, _ = world
    message = refused(org, "SELECT Id FRM Contact").errors[0].message
    assert message.splitlines()[1:4] == ["SELECT Id FRM Contact", "          ^", "ERROR at Row:1:Column:11"]
