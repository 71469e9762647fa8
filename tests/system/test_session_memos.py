"""What a session remembers about addresses is dropped when it ends (SPEC §3.2, §10)."""

from __future__ import annotations

import pytest

import rgsync.session.core as core
from rgsync.engine.blocklist import _sorted_address, forget_addresses
from tests.system.memory_world import make_world


def test_spec_3_2_a_session_sorts_each_address_once_and_forgets_them_when_it_ends(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many emails from one sender are sorted with one look at each address per session; the memo
    (which holds the user's identity and blocklist) is empty once the session is over, so a
    process running many users' sessions does not keep them alive."""
    world = make_world(tmp_path / "ann")
    for n in range(20):
        world.email("bob@globex.com", subject=f"Order {n}")
    forget_addresses()
    looked_at: list[int] = []

    def count_then_forget() -> None:
        looked_at.append(_sorted_address.cache_info().misses)
        forget_addresses()

    monkeypatch.setattr(core, "forget_addresses", count_then_forget)
    result = world.run()
    assert result.status == "completed"
    # Bob and Ann: two addresses, however many emails and planning passes.
    assert looked_at == [2]
    assert _sorted_address.cache_info().currsize == 0


def test_spec_10_a_listing_of_pages_without_emails_still_collects_the_sessions_garbage(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory stays flat when a listing brings page after page that holds no email to plan (on
    Exchange a first session meets its own labelling of earlier emails again as updates, some 200
    pages at 100,000 emails): the session's cyclic garbage is collected every couple of pages,
    not only after a chunk of emails is written. Without it a 100k Exchange session grew by about
    20 MB at the end of its listing."""
    import rgsync.session.emails as emails_stream
    from rgsync.model import Page, Stream

    world = make_world(tmp_path / "ann")
    world.email("bob@globex.com", subject="Order 1")
    listing = world.mailbox.changes

    def with_empty_pages(stream, cursor, options):  # type: ignore[no-untyped-def]
        if stream is Stream.EMAILS:
            for _ in range(12):  # pages whose every row the adapter dropped
                yield Page(items=(), deleted=(), cursor=None, full=True, last=False, reset=False)
        yield from listing(stream, cursor, options)

    monkeypatch.setattr(world.mailbox, "changes", with_empty_pages)
    collections: list[int] = []
    monkeypatch.setattr(emails_stream, "after_chunk", lambda: collections.append(1))
    assert world.run().status == "completed"
    # 13 pages and one chunk: a collection every two pages, and one after the chunk.
    assert emails_stream.PAGES_PER_COLLECTION == 2
    assert len(collections) == 7
