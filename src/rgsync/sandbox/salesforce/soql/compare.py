"""How SOQL compares values: the comparison operators (null never orders; relative date literals
compare as day ranges), the sort key of ORDER BY and LIKE patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


@dataclass(frozen=True)
class _DayRange:
    low: date
    high: date


def _compare(value: Any, op: str, operand: Any) -> bool:
    """SOQL comparison of a (folded) field value with a literal operand; null never orders."""
    if isinstance(operand, _DayRange):
        if value is None:
            return op == "!="
        day = value.astimezone(UTC).date() if isinstance(value, datetime) else value
        inside = operand.low <= day <= operand.high
        return {
            "=": inside,
            "!=": not inside,
            "<": day < operand.low,
            "<=": day <= operand.high,
            ">": day > operand.high,
            ">=": day >= operand.low,
        }[op]
    if operand is None:
        return (value is None) == (op == "=") if op in ("=", "!=") else False
    if value is None:
        return op == "!="
    try:
        if op == "=":
            return bool(value == operand)
        if op == "!=":
            return bool(value != operand)
        if op == "<":
            return bool(value < operand)
        if op == ">":
            return bool(value > operand)
        if op == "<=":
            return bool(value <= operand)
        if op == ">=":
            return bool(value >= operand)
    except TypeError:
        return False
    raise ValueError(op)


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    return value


def _like_pattern(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "%_":
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)
