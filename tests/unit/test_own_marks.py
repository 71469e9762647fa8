"""The labels a session set itself, remembered compactly (SPEC §10: memory stays flat; the echo
session is recognised without fetching, see the adapters' `past_own_marks`)."""

from __future__ import annotations

from rgsync.providers import own_marks
from rgsync.providers.own_marks import OwnMarks, own_mark_key


def test_every_mark_is_found_across_merges_and_others_are_not() -> None:
    marks = OwnMarks()
    count = 3 * own_marks._PENDING + 17  # several merges into the sorted array, and some pending
    for n in range(count):
        marks.add(f"AAMk{n}", f"CK{n}")
    assert len(marks) == count
    assert len(marks._sorted) >= 3 * own_marks._PENDING  # most are in the compact array
    assert all((f"AAMk{n}", f"CK{n}") in marks for n in range(count))
    # The same email with another version (the user changed it after our update) is not ours.
    assert not any((f"AAMk{n}", f"CK{n + 1}") in marks for n in range(0, count, 97))
    assert ("AAMk-unknown", "CK0") not in marks
    assert "AAMk0" not in marks  # not an (id, version) pair


def test_clear_forgets_every_mark() -> None:
    marks = OwnMarks()
    for n in range(own_marks._PENDING + 1):
        marks.add(f"id{n}", "v")
    marks.clear()
    assert len(marks) == 0 and not marks
    assert ("id0", "v") not in marks


def test_the_digest_separates_id_and_version() -> None:
    """ "ab" + "c" and "a" + "bc" are different pairs and must not share a digest."""
    assert own_mark_key("ab", "c") != own_mark_key("a", "bc")
    assert 0 <= own_mark_key("x", "y") < 2**64


def test_recently_read_keeps_the_newest_and_refreshes_a_read_again() -> None:
    """SPEC §10 memory stays flat: the last-read state of emails is kept for the newest only; an
    email read again counts as new."""
    from rgsync.providers.own_marks import RecentlyRead

    seen: RecentlyRead[int] = RecentlyRead(limit=3)
    for n in range(5):
        seen.remember(f"id{n}", n)
    assert list(seen) == ["id2", "id3", "id4"]
    seen.remember("id2", 20)  # read again: now the newest
    seen.remember("id5", 5)
    assert dict(seen) == {"id4": 4, "id2": 20, "id5": 5}
