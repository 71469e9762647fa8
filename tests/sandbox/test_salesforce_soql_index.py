"""The Salesforce emulator answers `field = 'x'` and `field IN (…)` from an index: same rows, same
order as testing every row (SPEC §10: the sandbox must stay fast at 100k records).

Each query is asked twice: as written (indexed), and with `OR Id = null` added, which no index
narrows, so every row is tested. Both must list the same Ids in the same order after inserts,
updates that change the filtered field, deletes and a rolled-back savepoint.
"""

from __future__ import annotations

from rgsync.sandbox.salesforce import SalesforceEmulator, load_scenario
from rgsync.sandbox.salesforce.clock import ManualClock
from rgsync.sandbox.salesforce.soql import run
from rgsync.sandbox.salesforce.store import Org
from tests.sandbox.salesforce_support import NOW, SCENARIO


def _both(org: Org, select: str, where: str, *, all_rows: bool = False) -> tuple[list[str], list[str]]:
    indexed = run(org, f"{select} WHERE {where}", include_deleted=all_rows)
    scanned = run(org, f"{select} WHERE ({where}) OR Id = null", include_deleted=all_rows)
    return [r["Id"] for r in indexed.records], [r["Id"] for r in scanned.records]


def test_indexed_lookups_answer_as_a_full_scan_through_changes() -> None:
    org = Org(clock=ManualClock(NOW))
    load_scenario(SalesforceEmulator(org), SCENARIO)
    made = [org.insert("Contact", {"LastName": f"P{n}", "Email": f"p{n % 3}@Acme.com"}) for n in range(9)]
    select = "SELECT Id FROM Contact"
    where = "Email IN ('P0@acme.com', 'p2@ACME.COM')"

    indexed, scanned = _both(org, select, where)
    assert indexed == scanned == [made[n] for n in (0, 2, 3, 5, 6, 8)]  # case-insensitive, oldest first

    # An index built now must follow later writes: a changed value leaves, the new value joins.
    org.update(made[0], {"Email": "p1@acme.com"})
    org.update(made[1], {"Email": "p0@acme.com"})
    org.delete(made[3])
    indexed, scanned = _both(org, select, where)
    assert indexed == scanned == [made[n] for n in (1, 2, 5, 6, 8)]
    indexed, scanned = _both(org, select, where, all_rows=True)
    assert indexed == scanned and made[3] in indexed  # queryAll still sees the deleted one

    # A rollback brings back values the index was built after (LastName is first filtered here).
    mark = org.savepoint()
    org.update(made[5], {"Email": "other@acme.com", "LastName": "Renamed"})
    assert made[5] not in _both(org, select, where)[0]
    assert _both(org, select, "LastName = 'P5'") == ([], [])
    org.rollback(mark)
    indexed, scanned = _both(org, select, where)
    assert indexed == scanned == [made[n] for n in (1, 2, 5, 6, 8)]
    assert _both(org, select, "LastName = 'P5'") == ([made[5]], [made[5]])

    # Equality on an Id field and combined with other conditions.
    account = org.insert("Account", {"Name": "Indexed"})
    org.update(made[6], {"AccountId": account})
    indexed, scanned = _both(org, select, f"AccountId = '{account[:15]}' AND LastName = 'P6'")
    assert indexed == scanned == [made[6]]
