"""The SOQL syntax tree: a `Query` with its select items, `Condition`s and order keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Path:
    """A field reference: relationship names then a field name, as written."""

    parts: list[str]
    at: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass
class Literal:
    kind: str  # string, number, boolean, null, date, datetime, relative
    value: Any
    at: int
    text: str


@dataclass
class Comparison:
    path: Path
    op: str  # = != < > <= >= IN NOT IN LIKE
    values: list[Literal]
    subquery: Query | None = None


@dataclass
class Not:
    operand: Condition


@dataclass
class Junction:
    op: str  # AND / OR
    operands: list[Condition]


Condition = Comparison | Not | Junction


@dataclass
class Count:
    path: Path | None
    alias: str | None
    at: int


@dataclass
class OrderKey:
    path: Path
    descending: bool
    nulls_last: bool


@dataclass
class Query:
    fields: list[Path | Count | Query]
    object: str
    object_at: int
    where: Condition | None = None
    order: list[OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    text: str = ""
