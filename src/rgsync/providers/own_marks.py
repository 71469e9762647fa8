"""How a session remembers the emails it labelled, to know its own updates in the change feed."""

from __future__ import annotations

import hashlib


def own_mark_key(item_id: str, version: str) -> int:
    """A 128-bit digest of an email's id and the version (Exchange ChangeKey, Graph changeKey)
    rgsync's label update produced.

    Every email a first session saves is labelled, and the session must recognise each of those
    updates in the change feed (the adapters' `past_own_marks`). Kept as strings (ids are about
    150 characters) they grew a 100,000-email session by some 40 MB; a digest is a small int, and
    two different pairs sharing one is a chance of about 1 in 10^28 at that size.
    """
    digest = hashlib.blake2b(f"{item_id}\0{version}".encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big")
