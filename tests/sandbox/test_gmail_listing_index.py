"""The Gmail emulator's kept listing answers exactly like a fresh scan of the mailbox.

Paging through `users.messages.list` reuses the matched, sorted list until the mailbox changes;
these tests interleave listings with the changes that must invalidate it (new, deleted and
relabelled messages, renamed labels, a moving clock) and compare with a brute-force scan.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rgsync.sandbox.google import mime
from rgsync.sandbox.google.gmail.store import GmailStore
from rgsync.sandbox.google.gmail_search import Candidate, compile_query

SENDERS = ("bob@globex.com", "carol@initech.com", "dan@globex.com")
SUBJECTS = ("Order question", "Invoice", "Lunch", "Order shipped")
LABELS = ("INBOX", "STARRED", "UNREAD", "TRASH", "SPAM", "Clients", "Synced")
QUERIES = (
    "",
    "label:starred",
    "in:inbox label:clients",
    "from:bob@globex.com",
    "subject:order",
    "label:clients",
    "label:renamed",
    "-label:synced",
    "newer_than:2d",
    "after:2026/11/20 invoice",
    "is:starred OR from:carol@initech.com",
)


def _raw(n: int, sender: str, subject: str, day: int) -> str:
    return (
        f"From: {sender}\r\nTo: ann@example.com\r\nSubject: {subject} {n}\r\n"
        f"Date: Mon, {day:02d} Nov 2026 10:00:00 +0000\r\nMessage-ID: <m{n}@test>\r\n\r\nBody {n}.\r\n"
    )


def _scan(store: GmailStore, label_ids: list[str], query: str, include_spam_trash: bool) -> list[str]:
    """What the listing must be: every message tested afresh against a freshly compiled query."""
    predicate = compile_query(query, store.clock()) if query.strip() else None
    found = []
    for message in store.messages.values():
        if not include_spam_trash and ({"SPAM", "TRASH"} & set(message.label_ids)):
            continue
        if not all(label in message.label_ids for label in label_ids):
            continue
        parsed = mime.parse(message.raw)
        candidate = Candidate(
            label_ids=frozenset(message.label_ids),
            label_names=store._label_names(message),
            internal_date_ms=message.internal_date_ms,
            subject=mime.header(parsed, "Subject"),
            senders=(*mime.addresses(parsed, "From"), mime.header(parsed, "From").lower()),
            recipients=(*mime.addresses(parsed, "To", "Cc", "Bcc"), mime.header(parsed, "To").lower()),
            copied=tuple(mime.addresses(parsed, "Cc")),
            message_id=mime.header(parsed, "Message-ID"),
            text=mime.body_text(parsed),
            has_attachment=False,
        )
        if predicate is None or predicate(candidate):
            found.append(message)
    found.sort(key=lambda m: (m.internal_date_ms, m.id), reverse=True)
    return [m.id for m in found]


operation = st.one_of(
    st.tuples(
        st.just("add"),
        st.sampled_from(SENDERS),
        st.sampled_from(SUBJECTS),
        st.integers(1, 28),
        st.lists(st.sampled_from(LABELS), max_size=3),
    ),
    st.tuples(st.just("label"), st.integers(0, 50), st.sampled_from(LABELS), st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("rename"), st.booleans()),
    st.tuples(st.just("tick"), st.integers(1, 72)),
    st.tuples(
        st.just("list"),
        st.sampled_from(QUERIES),
        st.lists(st.sampled_from(("INBOX", "STARRED", "UNREAD", "Clients")), max_size=1),
        st.booleans(),
    ),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(operation, min_size=4, max_size=40))
def test_kept_listing_equals_a_fresh_scan(operations: list[tuple[object, ...]]) -> None:
    """SPEC §10 (sandbox at scale): listing pages reuse a result only while it is still true."""
    now = [datetime(2026, 11, 28, 12, tzinfo=UTC)]
    store = GmailStore("ann@example.com", lambda: now[0], threading.RLock())
    store.create_label("Clients")
    last: tuple[str, list[str], bool] | None = None
    for n, op in enumerate(operations):
        ids = list(store.messages)
        if op[0] == "add":
            _, sender, subject, day, labels = op
            store.add_message(_raw(n, str(sender), str(subject), int(day)), labels=list(labels))  # type: ignore[call-overload]
        elif op[0] == "label" and ids:
            _, index, label, adding = op
            target = ids[int(index) % len(ids)]  # type: ignore[call-overload]
            if adding:
                store.modify_labels(target, add=[str(label)])
            elif store.label_id(str(label), create=True) in store.messages[target].label_ids:
                store.modify_labels(target, remove=[str(label)])
        elif op[0] == "delete" and ids:
            store.delete_message(ids[int(op[1]) % len(ids)])  # type: ignore[call-overload]
        elif op[0] == "rename":
            clients = store.label_id("Clients", create=True) if op[1] else None
            label_id = clients or next(iter(store.user_labels))
            store.user_labels[label_id]["name"] = "Renamed" if op[1] else "Clients"
        elif op[0] == "tick":
            now[0] += timedelta(hours=int(op[1]))  # type: ignore[call-overload]
        elif op[0] == "list":
            _, query, labels, spam_trash = op
            last = (str(query), list(labels), bool(spam_trash))  # type: ignore[call-overload]
        if last is not None:
            # The same question after every change: the kept answer must never go stale.
            query, label_ids, spam_trash = last
            expected = _scan(store, label_ids, query, spam_trash)
            for _page in range(2):
                got = store.listing(
                    label_ids, query, spam_trash, lambda q=query: compile_query(q, store.clock())
                )
                assert [m.id for m in got] == expected


def _store(now: list[datetime]) -> GmailStore:
    store = GmailStore("ann@example.com", lambda: now[0], threading.RLock())
    for n, day in enumerate((10, 26, 27)):
        store.add_message(_raw(n, "bob@globex.com", "Invoice", day), labels=["INBOX", "Clients"])
    return store


def id_list(store: GmailStore, query: str) -> list[str]:
    return [m.id for m in store.listing([], query, False, lambda: compile_query(query, store.clock()))]


def test_renaming_a_label_is_seen_by_the_next_page() -> None:
    """A kept `label:` listing is dropped once the label's name changes."""
    now = [datetime(2026, 11, 28, 12, tzinfo=UTC)]
    store = _store(now)
    assert len(id_list(store, "label:clients")) == 3
    store.user_labels[store.label_id("Clients")]["name"] = "Customers"
    assert id_list(store, "label:clients") == _scan(store, [], "label:clients", False) == []


def test_an_age_query_follows_the_clock() -> None:
    """`newer_than:` is worked out against the emulator's clock on every page."""
    now = [datetime(2026, 11, 28, 8, tzinfo=UTC)]
    store = _store(now)
    assert len(id_list(store, "newer_than:2d")) == 2
    now[0] += timedelta(days=1)
    assert id_list(store, "newer_than:2d") == _scan(store, [], "newer_than:2d", False)
    assert len(id_list(store, "newer_than:2d")) == 1
