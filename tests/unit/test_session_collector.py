"""The session's garbage-collector thresholds: raised while it runs, always put back (SPEC §10)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from rgsync.session.collector import SESSION_THRESHOLD, fewer_collections


@pytest.fixture
def thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_spec_10_thresholds_are_raised_during_a_session_and_restored_after(thresholds: None) -> None:
    with fewer_collections():
        assert gc.get_threshold()[0] == SESSION_THRESHOLD
        with fewer_collections():  # a nested session keeps them raised
            assert gc.get_threshold()[0] == SESSION_THRESHOLD
        assert gc.get_threshold()[0] == SESSION_THRESHOLD
    assert gc.get_threshold() == (700, 10, 10)


def test_thresholds_are_restored_when_the_session_fails(thresholds: None) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a session that stops half-way")
    assert gc.get_threshold() == (700, 10, 10)


def test_a_switched_off_or_higher_threshold_is_left_as_it_was(thresholds: None) -> None:
    gc.set_threshold(0, 10, 10)
    with fewer_collections():
        assert gc.get_threshold()[0] == 0
    gc.set_threshold(SESSION_THRESHOLD * 2, 50, 10)
    with fewer_collections():
        assert gc.get_threshold() == (SESSION_THRESHOLD * 2, 50, 10)
    assert gc.get_threshold() == (SESSION_THRESHOLD * 2, 50, 10)


def test_a_fleet_worker_keeps_its_thresholds(thresholds: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Session after session in one process, raised thresholds let cyclic garbage pile up (a
    worker grew by some 40 MB): a worker opts out and sessions leave the collector alone."""
    from rgsync.session import collector

    monkeypatch.setattr(collector, "_raise", True)
    collector.keep_thresholds()
    with fewer_collections():
        assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_cycles_a_chunk_left_are_collected_after_it(
    thresholds: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §10 (memory stays flat): with the thresholds raised, the garbage of one chunk of
    emails that sits in reference cycles is freed after the chunk, not left for a rare full
    collection."""
    import weakref

    from rgsync.session import collector

    monkeypatch.setattr(collector, "_raise", True)

    class Node:
        pass

    with fewer_collections():
        node = Node()
        node.self = node  # type: ignore[attr-defined]
        gone = weakref.ref(node)
        del node
        assert gone() is not None  # a cycle: reference counting alone does not free it
        collector.after_chunk()
        assert gone() is None
