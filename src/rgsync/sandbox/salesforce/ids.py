"""Salesforce record Ids: 15-character case-sensitive keys and their 18-character checksummed form.

A 15-character Id is a 3-character key prefix (the object type), then instance and counter
characters in base 62. The 18-character form appends three characters that encode, for each
5-character chunk, which positions hold an upper-case letter, so that the Id survives
case-insensitive systems. The API always answers with 18 characters and accepts both forms.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_ID_SHAPE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")

# The two "instance" characters of every Id this emulator mints; real orgs use their pod's code.
INSTANCE = "Rg"


# Every upper-case ASCII letter becomes "1", anything else "0": a chunk's mask read backwards is
# then the binary number of its suffix character (position 0 is the lowest bit).
_UPPER_MASK = {code: ("1" if "A" <= chr(code) <= "Z" else "0") for code in range(128)}


class _MaskTable(dict[int, str]):
    """The `str.translate` table for `_UPPER_MASK`, with "0" for characters beyond ASCII."""

    def __missing__(self, code: int) -> str:
        return "0"


_MASK_TABLE = _MaskTable(_UPPER_MASK)


def checksum(id15: str) -> str:
    """The three suffix characters Salesforce appends to a 15-character Id."""
    # Each save checks and mints several Ids, so this runs a few times per record written: one
    # translate and three base-2 reads instead of a loop over fifteen characters.
    mask = id15[:15].translate(_MASK_TABLE).ljust(15, "0")
    return (
        _SUFFIX_ALPHABET[int(mask[4::-1], 2)]
        + _SUFFIX_ALPHABET[int(mask[9:4:-1], 2)]
        + _SUFFIX_ALPHABET[int(mask[14:9:-1], 2)]
    )


def to18(id15: str) -> str:
    """The 18-character form of a 15-character Id."""
    return id15 + checksum(id15)


def mint(key_prefix: str, number: int) -> str:
    """The 18-character Id number `number` for objects with `key_prefix` (3 characters)."""
    counter = ""
    value = number
    for _ in range(9):
        value, digit = divmod(value, 62)
        counter = _BASE62[digit] + counter
    return to18(f"{key_prefix}{INSTANCE}0{counter}")


def normalize(value: object) -> str | None:
    """The 18-character Id for an Id given in either form, or None when it is not an Id.

    A 15-character Id is case-sensitive: it is taken as written. An 18-character Id is accepted
    when its suffix matches (the suffix is compared case-insensitively, as Salesforce does), and
    its first 15 characters are then restored to the case the suffix encodes.
    """
    if not isinstance(value, str):
        return None
    return _normalize_text(value)


@lru_cache(maxsize=65536)
def _normalize_text(value: str) -> str | None:
    # A pure function of the text, asked again and again for the same few Ids (the parent of
    # every relation, the contacts an email names): remembered rather than recomputed.
    if not _ID_SHAPE.match(value):
        return None
    if len(value) == 15:
        return to18(value)
    head, suffix = value[:15], value[15:].upper()
    if checksum(head) == suffix:
        return head + suffix
    restored = _restore_case(head, suffix)
    return None if restored is None else restored + suffix


def _restore_case(head: str, suffix: str) -> str | None:
    """Re-case a 15-character head from its suffix; None when the suffix is not a valid one."""
    chars = list(head)
    for chunk, code in enumerate(suffix):
        index = _SUFFIX_ALPHABET.find(code)
        if index < 0:
            return None
        for position in range(5):
            at = chunk * 5 + position
            upper = bool(index & (1 << position))
            if chars[at].isalpha():
                chars[at] = chars[at].upper() if upper else chars[at].lower()
            elif upper:
                return None
    restored = "".join(chars)
    return restored if checksum(restored) == suffix else None


def key_prefix(record_id: str) -> str:
    """The object key prefix (first three characters) of an Id."""
    return record_id[:3]
