"""What a session remembers of the emails it reads and labels, in memory that stays flat however
many emails it meets: the labels it set (to know its own updates in the change feed) and what the
newest emails it read looked like (so labelling them needs no second read)."""

from __future__ import annotations

import hashlib
import heapq
from array import array
from bisect import bisect_left
from typing import TypeVar

V = TypeVar("V")

# Emails whose last-read state an adapter keeps for labelling (`RecentlyRead`). A session labels
# a chunk of emails (1,000) soon after reading it, so this covers a chunk and a page of the
# listing with room to spare.
RECENT_EMAILS = 4096

# Marks gathered before they are merged into the sorted array: small enough that the pending set
# costs little, large enough that merging (a pass over the whole array) happens rarely.
_PENDING = 4096


def own_mark_key(item_id: str, version: str) -> int:
    """A 64-bit digest of an email's id and what rgsync's label update made of it: the version it
    produced (Exchange ChangeKey, Graph changeKey) or, on Gmail, the label id it added.

    Two different pairs share a digest with a chance of 1 in 2^64 per pair compared. A
    100,000-email session checks at most 100,000 feed rows against 100,000 marks: the chance that
    it takes someone else's change to an email for its own (and passes over that one change) is
    about 1 in 1,800 million per such session, and falls with the square of a smaller one.
    """
    digest = hashlib.blake2b(f"{item_id}\0{version}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class OwnMarks:
    """The labels/categories this session set, as 64-bit digests of (email id, new version or
    label id), see `own_mark_key`.

    Every email a first session saves is labelled, and the session must recognise each of those
    updates in the change feed (the adapters' `past_own_marks`). Kept as strings (ids are about
    150 characters) they grew a 100,000-email session by some 40 MB, and as a set of Python ints
    by some 9 MB (an int object and a hash slot each). Here each is 8 bytes of a sorted array,
    searched by bisection, plus a small set of the newest not yet merged in.
    """

    def __init__(self) -> None:
        self._sorted = array("Q")
        self._pending: set[int] = set()

    def add(self, item_id: str, version: str) -> None:
        """Remember that this session's update gave `item_id` the version (or label) `version`."""
        self._pending.add(own_mark_key(item_id, version))
        if len(self._pending) >= _PENDING:
            self._merge()

    def __contains__(self, pair: object) -> bool:
        """Whether (email id, version or label id) is one of this session's own updates."""
        if not isinstance(pair, tuple) or len(pair) != 2:
            return False
        key = own_mark_key(str(pair[0]), str(pair[1]))
        if key in self._pending:
            return True
        at = bisect_left(self._sorted, key)
        return at < len(self._sorted) and self._sorted[at] == key

    def __len__(self) -> int:
        return len(self._sorted) + len(self._pending)

    def clear(self) -> None:
        """Forget every mark (they are walked past once; later sessions set their own)."""
        self._sorted = array("Q")
        self._pending = set()

    def _merge(self) -> None:
        # heapq.merge streams both sorted inputs: no list of every digest is ever built.
        merged = array("Q", heapq.merge(self._sorted, sorted(self._pending)))
        self._sorted, self._pending = merged, set()


class RecentlyRead(dict[str, V]):
    """Email id -> what the adapter last read or wrote of it, for the newest `limit` emails only.

    Labelling an email needs its current labels (and on Exchange its ChangeKey); an email read in
    this session is labelled in the chunk it was read in, so keeping the newest few thousand spares
    a second read without growing with the mailbox. An email forgotten since is read again.
    """

    def __init__(self, limit: int = RECENT_EMAILS) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, item_id: str, value: V) -> None:
        """Keep `value` as the newest entry for `item_id`; the oldest go past `limit`."""
        self.pop(item_id, None)
        self[item_id] = value
        while len(self) > self.limit:
            del self[next(iter(self))]
