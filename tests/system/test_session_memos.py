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
