"""A deep copy for the emulators' stored records, several times cheaper than `copy.deepcopy`.

The stores hand out copies so a caller never edits a stored item, and snapshot an item before each
change for delta queries: a PATCH of one message copies its whole resource (headers, body) twice.
`copy.deepcopy` spends most of that time on its memo table and on dispatching by type. What the
stores hold is JSON-like (dicts, lists, strings, numbers) inside plain dataclasses, so this copy
walks those directly, shares the immutable leaves, and leaves anything else to `copy.deepcopy`.

Unlike `copy.deepcopy` it does not keep aliasing: a list held twice comes out as two lists. The
stores never rely on two places sharing one mutable value.
"""

from __future__ import annotations

import copy
import datetime
import decimal
from typing import Any, TypeVar

T = TypeVar("T")

# Values that never change in place, so a copy may share them.
_IMMUTABLE: frozenset[type] = frozenset(
    {
        str,
        int,
        float,
        bool,
        type(None),
        bytes,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        decimal.Decimal,
    }
)


def deep_copy(value: T) -> T:
    """A deep copy of JSON-like data and of plain records (dataclasses without slots) holding it."""
    return _copy(value)  # type: ignore[no-any-return]


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        return {key: item if type(item) in _IMMUTABLE else _copy(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _IMMUTABLE else _copy(item) for item in value]
    if kind is tuple:
        return tuple(item if type(item) in _IMMUTABLE else _copy(item) for item in value)
    if kind is set:
        return {item if type(item) in _IMMUTABLE else _copy(item) for item in value}
    if (
        hasattr(kind, "__dataclass_fields__")
        and hasattr(value, "__dict__")
        and not hasattr(kind, "__slots__")
    ):
        # A record: a shallow copy whose attributes are copied in turn (frozen ones included, since
        # the new instance's __dict__ is filled directly).
        duplicate = copy.copy(value)
        duplicate.__dict__.update({name: _copy(item) for name, item in value.__dict__.items()})
        return duplicate
    return copy.deepcopy(value)
