"""The state store's batch writes: the same rows as writing the items one at a time, in a few
statements, all or nothing (SPEC §7.1 journal and links, §8 issues, §10 writes batched).

Every test runs on both backends: a SQLite file and a PostgreSQL schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rgsync.model import (
    HeldBack,
    IssueItem,
    IssueReport,
    IssueSource,
    Link,
    Severity,
    Side,
    Stream,
)
from rgsync.state import NewIntent, PostgresLocation, StateStore

T0 = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(state_where: Path | PostgresLocation) -> Iterator[StateStore]:
    opened = StateStore.open(state_where)
    yield opened
    opened.close()


def link(mailbox_id: str, salesforce_id: str, subject: str = "") -> Link:
    return Link(
        stream=Stream.EMAILS,
        mailbox_id=mailbox_id,
        salesforce_id=salesforce_id,
        origin=Side.MAILBOX,
        fields={"subject": subject} if subject else {},
        natural_key=f"<{mailbox_id}@mail>",
    )


def intent(key: str, n: int = 0) -> NewIntent:
    return NewIntent(Stream.EMAILS, Side.SALESFORCE, "EmailMessage", key, {"n": n, "note": "ü"})


def issue(mailbox_id: str, salesforce_id: str = "", stream: Stream = Stream.EMAILS) -> IssueReport:
    return IssueReport(
        code="SF-FIELD_CUSTOM_VALIDATION_EXCEPTION",
        severity=Severity.ERROR,
        source=IssueSource.SALESFORCE,
        message=f"refused {mailbox_id}",
        advice="fix the rule",
        stream=stream,
        item=IssueItem(kind="email", subject="Pricing", mailbox_id=mailbox_id, salesforce_id=salesforce_id),
    )


def test_spec_7_1_add_intents_keeps_every_intent_in_order_with_its_own_id(store: StateStore) -> None:
    before = store.add_intent(Stream.EMAILS, Side.SALESFORCE, "EmailMessage", "<first@mail>", {})
    # More than one multi-row statement carries, so the ids of several statements line up too.
    wanted = [intent(f"<m{n}@mail>", n) for n in range(1200)]
    ids = store.add_intents(wanted, now=T0)
    assert len(ids) == len(set(ids)) == 1200 and ids == sorted(ids) and ids[0] > before
    pending = {i.id: i for i in store.pending_intents(Stream.EMAILS)}
    for new_id, planned in zip(ids, wanted, strict=True):
        stored = pending[new_id]
        assert (stored.natural_key, stored.payload, stored.kind) == (
            planned.natural_key,
            planned.payload,
            "EmailMessage",
        )
        assert stored.created_at == T0
    assert store.add_intents([]) == []


def test_spec_7_1_add_intents_records_all_or_none_in_the_callers_transaction(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_intents([intent("<a@mail>"), intent("<b@mail>")])
        raise RuntimeError("the session stopped before committing")
    assert store.pending_intents() == []


def test_spec_7_1_drop_intents_forgets_exactly_the_given_ones(store: StateStore) -> None:
    ids = store.add_intents([intent(f"<m{n}@mail>") for n in range(700)])
    store.drop_intents([*ids[:650], ids[0]])  # a repeated id is harmless
    assert [i.id for i in store.pending_intents()] == ids[650:]
    store.drop_intents([])
    assert len(store.pending_intents()) == 50


def test_spec_7_put_links_ends_as_putting_each_link_in_turn(
    state_where: Path | PostgresLocation, tmp_path: Path
) -> None:
    """A later link replaces every earlier one it shares a mailbox id or Salesforce id with,
    stored before or given earlier in the same batch: an item is linked at most once per side."""
    stored = [link("m1", "s1"), link("m2", "s2"), link("m9", "s9")]
    batch = [
        link("a", "sa"),
        link("a", "sb", "moved"),  # replaces the one just before (same mailbox id)
        link("c", "sb"),  # replaces that one in turn (same Salesforce id)
        link("m1", "s-new"),  # replaces a stored link by mailbox id
        link("m-new", "s2"),  # replaces a stored link by Salesforce id
        *(link(f"x{n}", f"sx{n}") for n in range(1100)),  # several statements' worth
    ]
    reference = StateStore.open(tmp_path / "one-at-a-time.sqlite3")
    with StateStore.open(state_where) as batched, reference:
        for target in (batched, reference):
            for item in stored:
                target.put_link(item)
        batched.put_links(batch)
        for item in batch:
            reference.put_link(item)
        assert batched.links(Stream.EMAILS) == reference.links(Stream.EMAILS)
        links = batched.links(Stream.EMAILS)
    assert "a" not in links and links["c"].salesforce_id == "sb"
    assert links["m1"].salesforce_id == "s-new" and "m2" not in links and links["m-new"].salesforce_id == "s2"
    assert links["m9"].salesforce_id == "s9" and len(links) == 1100 + 4


def test_spec_7_put_links_writes_nothing_when_the_transaction_fails(store: StateStore) -> None:
    store.put_link(link("m1", "s1"))
    with pytest.raises(RuntimeError), store.transaction():
        store.put_links([link("m1", "s-other"), link("m2", "s2")])
        raise RuntimeError("stopped")
    assert store.links(Stream.EMAILS) == {"m1": link("m1", "s1")}


def test_spec_8_resolve_issues_for_items_resolves_what_each_item_would(store: StateStore) -> None:
    by_mailbox = store.record_issue(issue("m1"), T0)
    by_salesforce = store.record_issue(issue("m-other", "s2"), T0)
    other_stream = store.record_issue(issue("m3", stream=Stream.TASKS), T0)
    untouched = store.record_issue(issue("m4"), T0)
    many = [store.record_issue(issue(f"bulk{n}"), T0) for n in range(500)]
    items = [("m1", ""), ("", "s2"), ("m3", ""), ("", ""), *((f"bulk{n}", "") for n in range(500))]
    later = T0 + timedelta(hours=1)
    assert store.resolve_issues_for_items(Stream.EMAILS, items, now=later) == 2 + 500
    assert store.resolve_issues_for_items(Stream.EMAILS, items, now=later) == 0  # already resolved
    assert store.resolve_issues_for_items(Stream.EMAILS, [], now=later) == 0
    for issue_id in (by_mailbox, by_salesforce, *many):
        resolved = store.issue(issue_id)
        assert resolved is not None and resolved.resolved_at == later
    for issue_id in (other_stream, untouched):
        still = store.issue(issue_id)
        assert still is not None and still.is_open
    # Without a stream, an item's issues of every stream resolve.
    assert store.resolve_issues_for_items(None, [("m3", "")], now=later) == 1


def test_spec_7_7_release_and_track_threads_in_bulk(store: StateStore) -> None:
    hold = HeldBack(attempts=1, next_attempt=T0, fingerprint="f", code="SF-X")
    for n in range(600):
        store.hold_back(Stream.EMAILS, f"m{n}", hold)
    store.release(Stream.EMAILS, [f"m{n}" for n in range(1, 600)])
    assert list(store.held_back(Stream.EMAILS)) == ["m0"]
    store.track_thread("t1", ("003A",), None)
    store.track_threads([("t1", ("003B",), "006A"), ("t2", ("003C",), None), ("t2", ("003D",), None)])
    assert store.tracked_threads() == {"t1": (("003B",), "006A"), "t2": (("003D",), None)}
