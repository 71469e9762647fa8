"""SOQL evaluation over the emulated org (`run`): checks the query against the schema, compiles
WHERE into row predicates (with semi-joins), orders, pages and shapes rows as Salesforce's JSON,
child relationship subqueries and COUNT() included.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date
from typing import TYPE_CHECKING, Any

from .. import ids
from ..values import to_json
from .compare import _compare, _DayRange, _like_pattern, _sort_key
from .dates import _RELATIVE_FIXED, _RELATIVE_N
from .errors import _located, _malformed
from .parser import parse
from .syntax import Comparison, Condition, Count, Junction, Literal, Not, Path, Query

if TYPE_CHECKING:
    from ..schema import Field, SObjectType
    from ..store import Org

_TEXTUAL = frozenset({"string", "textarea", "email", "url", "phone", "picklist", "combobox"})
_IDS = frozenset({"id", "reference"})
_NUMERIC = frozenset({"int", "double", "currency", "percent"})

# Child relationships a parent can query as `(SELECT … FROM <name>)`: name → (child object, field).
CHILD_RELATIONSHIPS: dict[str, dict[str, tuple[str, str]]] = {
    "Account": {"Contacts": ("Contact", "AccountId"), "Opportunities": ("Opportunity", "AccountId")},
    "Task": {"TaskRelations": ("TaskRelation", "TaskId")},
    "Event": {"EventRelations": ("EventRelation", "EventId")},
    "EmailMessage": {"EmailMessageRelations": ("EmailMessageRelation", "EmailMessageId")},
}


@dataclass
class QueryResult:
    """Rows of a query in Salesforce's JSON shape; `total_size` counts them (or COUNT())."""

    records: list[dict[str, Any]]
    total_size: int
    object: str


@dataclass
class _Resolved:
    """A path checked against the schema: relationship hops and the final field."""

    hops: list[tuple[str, Field]]  # (relationship name as canonical, reference field)
    field: Field
    text: str


class _Evaluator:
    def __init__(self, org: Org, text: str, *, include_deleted: bool, today: date, version: str) -> None:
        self.org = org
        self.text = text
        self.include_deleted = include_deleted
        self.today = today
        self.version = version

    # schema checks
    def object_of(self, query: Query) -> SObjectType:
        if not self.org.has_object(query.object):
            raise _located(
                "INVALID_TYPE",
                self.text,
                query.object_at,
                f"sObject type '{query.object}' is not supported. If you are attempting to use a custom object, "
                "be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call "
                "for the appropriate names.",
            )
        return self.org.object_type(query.object)

    def resolve(self, obj: SObjectType, path: Path) -> _Resolved:
        hops: list[tuple[str, Field]] = []
        current: list[SObjectType] = [obj]
        parts = list(path.parts)
        if len(parts) > 1 and parts[0].lower() == obj.name.lower():
            parts = parts[1:]  # `Contact.Email` on Contact names the object itself
        for hop in parts[:-1]:
            ref = next((o.relationship(hop) for o in current if o.relationship(hop) is not None), None)
            if ref is None:
                raise _located(
                    "INVALID_FIELD",
                    self.text,
                    path.at,
                    f"Didn't understand relationship '{hop}' in field path. If you are attempting to use a custom "
                    "relationship, be sure to append the '__r' after the custom relationship name. Please reference "
                    "your WSDL or the describe call for the appropriate names.",
                )
            hops.append((ref.relationship or hop, ref))
            current = [self.org.objects[name] for name in ref.reference_to if name in self.org.objects]
        name = parts[-1]
        found = next((o.field(name) for o in current if o.field(name) is not None), None)
        if found is None:
            entity = current[0].name if len(current) == 1 else "Name"
            raise _located(
                "INVALID_FIELD",
                self.text,
                path.at,
                f"No such column '{name}' on entity '{entity}'. If you are attempting to use a custom field, be sure "
                "to append the '__c' after the custom field name. Please reference your WSDL or the describe call "
                "for the appropriate names.",
            )
        return _Resolved(hops, found, path.text)

    # values
    def value_of(self, row: dict[str, Any] | None, resolved: _Resolved) -> Any:
        for _, ref in resolved.hops:
            if row is None:
                return None
            target = row.get(ref.name)
            row = self.org.row(target) if target else None
        if row is None:
            return None
        if resolved.field.type == "junctionidlist":
            return None
        return row.get(resolved.field.name)

    def run(self, query: Query) -> QueryResult:
        obj = self.object_of(query)
        rows = self.rows(obj, query)
        counts = [f for f in query.fields if isinstance(f, Count)]
        if counts:
            return self.aggregate(obj, query, rows, counts)
        records = [self.shape(obj, query, row) for row in rows]
        return QueryResult(records, len(records), obj.name)

    def rows(
        self, obj: SObjectType, query: Query, *, extra: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[dict[str, Any]]:
        predicate = self.compile(obj, query.where) if query.where is not None else None
        order = [(self.resolve(obj, key.path), key) for key in query.order]
        for resolved, _ in order:
            if not resolved.field.describe()["sortable"]:
                raise _located(
                    "INVALID_FIELD",
                    self.text,
                    0,
                    f"field '{resolved.text}' can not be sorted in a query call",
                )
        # Validate select paths before reading any row, so bad fields fail even on empty objects.
        for item in query.fields:
            if isinstance(item, Path):
                self.resolve(obj, item)
        narrowed = self.narrowed(obj, query.where) if query.where is not None else None
        candidates: Iterable[dict[str, Any]]
        if narrowed is None:
            candidates = self.org.iter_rows(obj.name, include_deleted=self.include_deleted)
        else:
            candidates = (r for r in narrowed if self.include_deleted or not r["IsDeleted"])
        if obj.name in ("Task", "Event"):
            # Activity sharing: what the acting user may read (see `Org.activity_visible`).
            candidates = (r for r in candidates if self.org.activity_visible(r))
        rows = [r for r in candidates if (extra is None or extra(r)) and (predicate is None or predicate(r))]
        for resolved, key in reversed(order):
            present = [r for r in rows if self.value_of(r, resolved) is not None]
            absent = [r for r in rows if self.value_of(r, resolved) is None]
            present.sort(key=self._sorter(resolved), reverse=key.descending)
            rows = present + absent if key.nulls_last else absent + present
        start = query.offset or 0
        rows = rows[start:]
        if query.limit is not None:
            rows = rows[: query.limit]
        return rows

    def narrowed(self, obj: SObjectType, where: Condition) -> list[dict[str, Any]] | None:
        """The rows that can match `where`, from an index, when a condition every match must meet
        is `field = 'x'` or `field IN (…)` on a text or Id field of the object itself; None
        otherwise (then every row is tested). The predicate still tests each row returned."""
        conjuncts = where.operands if isinstance(where, Junction) and where.op == "AND" else [where]
        for condition in conjuncts:
            if (
                not isinstance(condition, Comparison)
                or condition.subquery is not None
                or condition.op not in ("=", "IN")
            ):
                continue
            resolved = self.resolve(obj, condition.path)
            if resolved.hops or resolved.field.type not in _TEXTUAL | _IDS:
                continue
            operands = [self.operand(resolved.field, literal) for literal in condition.values]
            # '' and null match empty fields, which the index does not hold.
            if operands and all(isinstance(o, str) and o for o in operands):
                return self.org.indexed_rows(obj.name, resolved.field.name, operands)
        return None

    def _sorter(self, resolved: _Resolved) -> Callable[[dict[str, Any]], Any]:
        return lambda row: _sort_key(self.value_of(row, resolved))

    def attributes(self, type_name: str, record_id: str | None) -> dict[str, Any]:
        attributes = {"type": type_name}
        if record_id:
            attributes["url"] = f"/services/data/v{self.version}/sobjects/{type_name}/{record_id}"
        return attributes

    def shape(self, obj: SObjectType, query: Query, row: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": self.attributes(obj.name, row.get("Id"))}
        seen: set[str] = set()
        for item in query.fields:
            if isinstance(item, Query):
                record[self.child_name(obj, item)] = self.children(obj, item, row)
                continue
            if not isinstance(item, Path):
                continue
            resolved = self.resolve(obj, item)
            key = ".".join([h for h, _ in resolved.hops] + [resolved.field.name]).lower()
            if key in seen:
                raise _malformed(self.text, item.at, f"duplicate field selected: {item.text}")
            seen.add(key)
            self.place(record, row, resolved)
        return record

    def place(self, record: dict[str, Any], row: dict[str, Any], resolved: _Resolved) -> None:
        target: dict[str, Any] = record
        current: dict[str, Any] | None = row
        for name, ref in resolved.hops:
            parent_id = current.get(ref.name) if current else None
            parent = self.org.row(parent_id) if parent_id else None
            if parent is None:
                target.setdefault(name, None)
                return
            nested = target.get(name)
            if not isinstance(nested, dict):
                nested = {
                    "attributes": self.attributes(self.org.type_of(parent["Id"]) or "Name", parent["Id"])
                }
                target[name] = nested
            target, current = nested, parent
        value = current.get(resolved.field.name) if current else None
        if resolved.field.type == "junctionidlist":
            value = None
        target[resolved.field.name] = to_json(value)

    def child_name(self, obj: SObjectType, sub: Query) -> str:
        for name in CHILD_RELATIONSHIPS.get(obj.name, {}):
            if name.lower() == sub.object.lower():
                return name
        raise _located(
            "INVALID_TYPE",
            self.text,
            sub.object_at,
            f"Didn't understand relationship '{sub.object}' in FROM part of query call. If you are attempting to use "
            "a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference "
            "your WSDL or the describe call for the appropriate names.",
        )

    def children(self, obj: SObjectType, sub: Query, row: dict[str, Any]) -> dict[str, Any] | None:
        child_type, link = CHILD_RELATIONSHIPS[obj.name][self.child_name(obj, sub)]
        child_obj = self.org.objects[child_type]
        inner = Query(
            sub.fields, child_type, sub.object_at, sub.where, sub.order, sub.limit, sub.offset, sub.text
        )
        rows = self.rows(child_obj, inner, extra=lambda r: r.get(link) == row.get("Id"))
        if not rows:
            return None
        records = [self.shape(child_obj, inner, r) for r in rows]
        return {"totalSize": len(records), "done": True, "records": records}

    def aggregate(
        self, obj: SObjectType, query: Query, rows: list[dict[str, Any]], counts: list[Count]
    ) -> QueryResult:
        others = [f for f in query.fields if not isinstance(f, Count)]
        if others:
            item = others[0]
            at = item.at if isinstance(item, Path) else item.object_at
            raise _malformed(
                self.text, at, f"Field must be grouped or aggregated: {getattr(item, 'text', '')}"
            )
        if len(counts) == 1 and counts[0].path is None:
            return QueryResult([], len(rows), obj.name)
        result: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for index, count in enumerate(counts):
            if count.path is None:
                raise _malformed(
                    self.text, count.at, "unexpected token: 'COUNT' (COUNT() must be the only item)"
                )
            resolved = self.resolve(obj, count.path)
            value = sum(1 for r in rows if self.value_of(r, resolved) is not None)
            result[count.alias or f"expr{index}"] = value
        return QueryResult([result], 1, obj.name)

    # predicates
    def compile(self, obj: SObjectType, condition: Condition) -> Callable[[dict[str, Any]], bool]:
        if isinstance(condition, Junction):
            parts = [self.compile(obj, c) for c in condition.operands]
            if condition.op == "AND":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(condition, Not):
            inner = self.compile(obj, condition.operand)
            return lambda r: not inner(r)
        return self.compile_comparison(obj, condition)

    def compile_comparison(
        self, obj: SObjectType, comparison: Comparison
    ) -> Callable[[dict[str, Any]], bool]:
        resolved = self.resolve(obj, comparison.path)
        spec = resolved.field
        if not spec.describe()["filterable"]:
            raise _located(
                "INVALID_FIELD",
                self.text,
                comparison.path.at,
                f"field '{spec.name}' can not be filtered in a query call",
            )
        op = comparison.op
        if comparison.subquery is not None:
            allowed = self.semi_join(comparison)
            wanted_in = op == "IN"
            return lambda r: (self.value_of(r, resolved) in allowed) == wanted_in
        if op == "LIKE":
            if spec.type not in _TEXTUAL and spec.type not in _IDS:
                raise _located(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    self.text,
                    comparison.path.at,
                    f"invalid operator on {spec.type} field: LIKE",
                )
            pattern = _like_pattern(comparison.values[0].value)
            return lambda r: (
                (v := self.value_of(r, resolved)) is not None and pattern.match(str(v)) is not None
            )
        operands = [self.operand(spec, lit) for lit in comparison.values]
        textual = spec.type in _TEXTUAL

        def value(row: dict[str, Any]) -> Any:
            found = self.value_of(row, resolved)
            # Text comparisons are case-insensitive in SOQL; Ids are compared exactly (18 characters).
            return found.casefold() if textual and isinstance(found, str) else found

        if op in ("IN", "NOT IN"):
            return _membership(value, operands, inside=op == "IN")
        if op in ("<", ">", "<=", ">=") and spec.type == "boolean":
            raise _located(
                "INVALID_QUERY_FILTER_OPERATOR",
                self.text,
                comparison.path.at,
                f"invalid operator on boolean field: {op}",
            )
        operand = operands[0]
        return lambda r: _compare(value(r), op, operand)

    def semi_join(self, comparison: Comparison) -> set[Any]:
        sub = comparison.subquery
        assert sub is not None
        sub_obj = self.object_of(sub)
        paths = [f for f in sub.fields if isinstance(f, Path)]
        if len(paths) != 1 or len(sub.fields) != 1:
            raise _malformed(
                self.text,
                sub.object_at,
                "The selected field in a semi join subquery must be a single Id or reference field",
            )
        resolved = self.resolve(sub_obj, paths[0])
        if resolved.field.type not in _IDS:
            raise _located(
                "INVALID_FIELD",
                self.text,
                paths[0].at,
                "The selected field in a semi join subquery must be an Id or reference field",
            )
        return {self.value_of(r, resolved) for r in self.rows(sub_obj, sub)} - {None}

    def operand(self, spec: Field, literal: Literal) -> Any:
        """The comparable value of a literal for a field of `spec`'s type, or a QueryError."""
        kind = spec.type
        if literal.kind == "null":
            return None
        wrong = f"value of filter criterion for field '{spec.name}' must be of type {_type_word(kind)}"
        if kind in _IDS:
            if literal.kind != "string":
                raise _located(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    self.text,
                    literal.at,
                    wrong + " and should be enclosed in quotes",
                )
            if literal.value == "":
                return ""
            normal = ids.normalize(literal.value)
            if normal is None:
                raise _located(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    self.text,
                    literal.at,
                    f"invalid ID field: {literal.value}",
                )
            return normal
        if kind in _TEXTUAL:
            if literal.kind != "string":
                raise _located(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    self.text,
                    literal.at,
                    wrong + " and should be enclosed in quotes",
                )
            return str(literal.value).casefold()
        if kind == "boolean":
            if literal.kind != "boolean":
                raise _located(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    self.text,
                    literal.at,
                    wrong + " and should not be enclosed in quotes",
                )
            return literal.value
        if kind in _NUMERIC:
            if literal.kind != "number":
                raise _located(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    self.text,
                    literal.at,
                    wrong + " and should not be enclosed in quotes",
                )
            return literal.value
        if kind in ("date", "datetime"):
            if literal.kind == "relative":
                name, amount = literal.value
                low, high = (
                    _RELATIVE_N[name](self.today, amount)
                    if amount is not None
                    else _RELATIVE_FIXED[name](self.today)
                )
                return _DayRange(low, high)
            if kind == "date" and literal.kind == "date":
                return literal.value
            if kind == "datetime" and literal.kind == "datetime":
                return literal.value
            raise _located(
                "INVALID_QUERY_FILTER_OPERATOR",
                self.text,
                literal.at,
                wrong + " and should not be enclosed in quotes",
            )
        raise _located(
            "INVALID_FIELD", self.text, literal.at, f"field '{spec.name}' can not be filtered in a query call"
        )


def _type_word(kind: str) -> str:
    return {
        "datetime": "dateTime",
        "int": "int",
        "double": "double",
        "currency": "double",
        "percent": "double",
    }.get(kind, "boolean" if kind == "boolean" else "date" if kind == "date" else "string")


def run(
    org: Org, text: str, *, include_deleted: bool = False, today: date | None = None, version: str = "59.0"
) -> QueryResult:
    """Parse and run a SOQL statement against `org`. `today` (default: the org clock's UTC date)
    anchors relative date literals; `include_deleted` is queryAll."""
    query = _parsed(text)
    with org.lock:
        anchor = today or org.clock().astimezone(UTC).date()
        evaluator = _Evaluator(org, text, include_deleted=include_deleted, today=anchor, version=version)
        return evaluator.run(query)


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> Query:
    # The same statements come again and again (each session of a team asks the same lookups);
    # a parsed query is only read by the evaluator, so one parse serves them all. Refusals are
    # not remembered: a malformed statement is parsed, and refused, each time.
    return parse(text)


def _membership(
    value: Callable[[dict[str, Any]], Any], operands: list[Any], *, inside: bool
) -> Callable[[dict[str, Any]], bool]:
    """`IN` / `NOT IN`: whether a row's value equals one of the operands.

    Operands are already in comparable form (text folded, Ids as 18 characters), so `=` is plain
    equality and a set answers it in one step instead of one comparison per listed value (a
    lookup of a few hundred addresses against every row). Date ranges and unhashable values keep
    the comparison one by one.
    """

    def one_by_one(row: dict[str, Any]) -> bool:
        return any(_compare(value(row), "=", o) for o in operands) == inside

    try:
        members = frozenset(operands)
    except TypeError:
        return one_by_one
    if any(isinstance(o, _DayRange) for o in members):
        return one_by_one

    def by_set(row: dict[str, Any]) -> bool:
        found = value(row)
        try:
            return (found in members) == inside
        except TypeError:
            return any(_compare(found, "=", o) for o in operands) == inside

    return by_set
