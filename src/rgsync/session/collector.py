"""Fewer cyclic garbage collections while a session runs.

A session allocates container objects at a high rate (each page of JSON or MIME becomes thousands
of dicts and lists, each email an `EmailItem` and its addresses) and keeps a chunk of them alive
until it is written. With CPython's default first threshold (700 allocations) the collector runs
hundreds of times per thousand emails and walks the same live chunk again and again, finding
nothing: reference counting frees nearly everything a session drops. Raising the first
threshold for the session's length keeps collections for the cycles that do appear, at a small
fraction of the CPU; the thresholds are put back afterwards.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations between two young-generation collections during a session: large enough that a page
# of emails is not walked many times over, small enough that cyclic garbage stays a few megabytes.
SESSION_THRESHOLD = 50_000
# The middle generation is collected every this many young collections (CPython's default is 10).
SESSION_MIDDLE = 20

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] = (0, 0, 0)
_raise = True


def keep_thresholds() -> None:
    """Leave the collector's thresholds as they are in this process (a fleet worker calls this).

    A worker runs session after session: what one session leaves in reference cycles is promoted
    past the young generation while the session holds it, and with collections spaced out it
    waits for a rare full collection, so a worker grew from about 115 to 160 MB. A single `rgsync
    run` ends with its session and keeps the raised thresholds (its peak was the same either way).
    """
    global _raise
    _raise = False


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the body with the session's collector thresholds, restoring the previous ones after.

    Nested or concurrent sessions in one process share the raised thresholds; the first to enter
    saves the previous ones and the last to leave restores them. A threshold someone set higher
    already is kept.
    """
    global _depth, _saved
    if not _raise:
        yield
        return
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            # What exists before the session (modules, caches) is left out of every collection
            # until it ends, so the collection after each chunk (`after_chunk`) walks only what
            # the session made.
            gc.freeze()
            first, middle, oldest = _saved
            # A first threshold of 0 means the collector is off: leave it so.
            if first:
                gc.set_threshold(max(first, SESSION_THRESHOLD), max(middle, SESSION_MIDDLE), oldest)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()


def after_chunk() -> None:
    """Collect the cycles a chunk of emails left, while the thresholds are raised.

    With collections spaced out, what a chunk left in reference cycles (the Exchange client's
    objects make many) waited for a rare full collection: a 10,000-email Exchange session peaked at
    115 MB instead of 97 MB, growing with the mailbox. One collection per chunk, over the
    session's own objects only (see `fewer_collections`), keeps memory flat for a few
    milliseconds.
    """
    if _raise and _depth:
        gc.collect()
