"""SOQL: a tokenizer, a recursive-descent parser and an evaluator over the emulated org.

Supported: SELECT field lists with parent relationship paths (`Account.Name`, `Owner.Email`,
`Who.Name`), child relationship subqueries (`(SELECT Id FROM TaskRelations)`), `COUNT()` and
`COUNT(field) [alias]`; FROM one object; WHERE with AND / OR / NOT and parentheses (mixing AND
and OR without parentheses is refused, as Salesforce does), = != <> < > <= >=, [NOT] IN with
literal lists or a semi-join `(SELECT Id FROM …)`, LIKE with % and _; string (with \\' \\\\ \\n
\\t \\r \\b \\f \\" \\% \\_ escapes), number, boolean, null, date and date-time literals, and
the relative date literals TODAY, YESTERDAY, TOMORROW, THIS/LAST/NEXT_WEEK, THIS/LAST/NEXT_MONTH,
THIS_YEAR, LAST_90_DAYS, NEXT_90_DAYS, LAST_N_DAYS:n, NEXT_N_DAYS:n, N_DAYS_AGO:n; ORDER BY
(several keys, ASC/DESC, NULLS FIRST/LAST), LIMIT and OFFSET (≤ 2,000).

Errors are `QueryError`s with Salesforce's codes (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE,
INVALID_QUERY_FILTER_OPERATOR, NUMBER_OUTSIDE_VALID_RANGE) and a message that shows the query
with a caret under the offending token, its row and column, and what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import ids
from .store import RequestError, parse_datetime, to_json

if TYPE_CHECKING:
    from .schema import Field, SObjectType
    from .store import Org

MAX_OFFSET = 2000
_KEYWORDS = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "NULL",
        "TRUE",
        "FALSE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
        "GROUP",
        "HAVING",
        "WITH",
        "FOR",
        "USING",
        "INCLUDES",
        "EXCLUDES",
        "TYPEOF",
    ]
)
_TEXTUAL = frozenset({"string", "textarea", "email", "url", "phone", "picklist", "combobox"})
_IDS = frozenset({"id", "reference"})
_NUMERIC = frozenset({"int", "double", "currency", "percent"})
_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "%": "\\%",
    "_": "\\_",
}

# Child relationships a parent can query as `(SELECT … FROM <name>)`: name → (child object, field).
CHILD_RELATIONSHIPS: dict[str, dict[str, tuple[str, str]]] = {
    "Account": {"Contacts": ("Contact", "AccountId"), "Opportunities": ("Opportunity", "AccountId")},
    "Task": {"TaskRelations": ("TaskRelation", "TaskId")},
    "Event": {"EventRelations": ("EventRelation", "EventId")},
    "EmailMessage": {"EmailMessageRelations": ("EmailMessageRelation", "EmailMessageId")},
}


class QueryError(RequestError):
    """A query Salesforce would refuse (HTTP 400)."""


# --- tokens --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, number, date, datetime, op, punct, eof
    text: str
    value: Any
    at: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>[+-]?(?:\d+\.\d*|\.\d+|\d+))
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[(),:])
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    """Split SOQL into tokens; refuses characters SOQL has no use for."""
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        if text[at] == "'":
            value, end = _read_string(text, at)
            tokens.append(Token("string", text[at:end], value, at))
            at = end
            continue
        match = _TOKEN.match(text, at)
        if match is None:
            raise _malformed(text, at, f"unexpected token: '{text[at]}'")
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "number" and tokens and tokens[-1].kind in ("word", "string", "number") and raw[0] in "+-":
            raise _malformed(text, at, f"unexpected token: '{raw[0]}'")
        if kind != "space":
            tokens.append(Token(kind, raw, raw, at))
        at = match.end()
    tokens.append(Token("eof", "<EOF>", None, len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    at = start + 1
    while at < len(text):
        char = text[at]
        if char == "\\":
            if at + 1 >= len(text):
                break
            code = text[at + 1]
            if code == "u" and re.match(r"[0-9a-fA-F]{4}", text[at + 2 : at + 6]):
                out.append(chr(int(text[at + 2 : at + 6], 16)))
                at += 6
                continue
            if code not in _ESCAPES:
                raise _malformed(
                    text,
                    at,
                    f"Invalid string literal '{text[start : at + 2]}'. Illegal character sequence '\\{code}' in string literal.",
                )
            out.append(_ESCAPES[code])
            at += 2
            continue
        if char == "'":
            return "".join(out), at + 1
        out.append(char)
        at += 1
    raise _malformed(
        text, start, f"unexpected token: '{text[start : start + 20]}' (unterminated string literal)"
    )


def _position(text: str, at: int) -> tuple[int, int, str]:
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    return text.count("\n", 0, at) + 1, at - line_start + 1, line


def _located(code: str, text: str, at: int, message: str) -> QueryError:
    row, column, line = _position(text, at)
    caret = " " * (column - 1) + "^"
    return QueryError(code, f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{message}")


def _malformed(text: str, at: int, message: str) -> QueryError:
    return _located("MALFORMED_QUERY", text, at, message)


# --- syntax tree ---------------------------------------------------------------------------


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


# --- parser ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def is_word(self, *words: str) -> bool:
        return self.token.kind == "word" and self.token.text.upper() in words

    def take(self) -> Token:
        token = self.token
        self.pos += 1
        return token

    def expect_word(self, word: str) -> Token:
        if not self.is_word(word):
            raise self.unexpected()
        return self.take()

    def expect_punct(self, char: str) -> Token:
        if self.token.kind != "punct" or self.token.text != char:
            raise self.unexpected()
        return self.take()

    def unexpected(self) -> QueryError:
        token = self.token
        return _malformed(self.text, token.at, f"unexpected token: '{token.text}'")

    def query(self, *, nested: bool = False) -> Query:
        self.expect_word("SELECT")
        fields: list[Path | Count | Query] = [self.select_item(nested)]
        while self.token.kind == "punct" and self.token.text == ",":
            self.take()
            fields.append(self.select_item(nested))
        self.expect_word("FROM")
        if self.token.kind != "word" or self.token.text.upper() in _KEYWORDS:
            raise self.unexpected()
        name_token = self.take()
        query = Query(fields, name_token.text, name_token.at, text=self.text)
        if self.is_word("WHERE"):
            self.take()
            query.where = self.condition()
        if self.is_word("GROUP", "HAVING", "WITH", "FOR", "USING"):
            raise _malformed(
                self.text, self.token.at, f"unexpected token: '{self.token.text}' (not supported by this org)"
            )
        if self.is_word("ORDER"):
            self.take()
            self.expect_word("BY")
            query.order.append(self.order_key())
            while self.token.kind == "punct" and self.token.text == ",":
                self.take()
                query.order.append(self.order_key())
        if self.is_word("LIMIT"):
            self.take()
            query.limit = self.integer()
        if self.is_word("OFFSET"):
            self.take()
            at = self.token.at
            query.offset = self.integer()
            if query.offset > MAX_OFFSET:
                raise _located(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    self.text,
                    at,
                    f"Maximum SOQL offset allowed is {MAX_OFFSET}",
                )
        if nested:
            if self.token.kind != "punct" or self.token.text != ")":
                raise self.unexpected()
        elif self.token.kind != "eof":
            raise self.unexpected()
        return query

    def integer(self) -> int:
        if self.token.kind != "number" or not self.token.text.isdigit():
            raise self.unexpected()
        return int(self.take().text)

    def select_item(self, nested: bool) -> Path | Count | Query:
        if self.token.kind == "punct" and self.token.text == "(" and not nested:
            self.take()
            sub = self.query(nested=True)
            self.expect_punct(")")
            return sub
        if self.is_word("COUNT") and self.tokens[self.pos + 1].text == "(":
            at = self.take().at
            self.expect_punct("(")
            path = None
            if self.token.kind == "word":
                path = self.path()
            self.expect_punct(")")
            alias = None
            if self.token.kind == "word" and self.token.text.upper() not in _KEYWORDS:
                alias = self.take().text
            return Count(path, alias, at)
        return self.path()

    def path(self) -> Path:
        if self.token.kind != "word" or self.token.text.upper() in _KEYWORDS:
            raise self.unexpected()
        token = self.take()
        return Path(token.text.split("."), token.at)

    def order_key(self) -> OrderKey:
        path = self.path()
        descending = False
        if self.is_word("ASC", "DESC"):
            descending = self.take().text.upper() == "DESC"
        nulls_last = descending
        if self.is_word("NULLS"):
            self.take()
            if not self.is_word("FIRST", "LAST"):
                raise self.unexpected()
            nulls_last = self.take().text.upper() == "LAST"
        return OrderKey(path, descending, nulls_last)

    def condition(self) -> Condition:
        first = self.unary()
        if not self.is_word("AND", "OR"):
            return first
        op = self.token.text.upper()
        operands = [first]
        while self.is_word("AND", "OR"):
            if self.token.text.upper() != op:
                # SOQL needs parentheses to mix AND and OR.
                raise self.unexpected()
            self.take()
            operands.append(self.unary())
        return Junction(op, operands)

    def unary(self) -> Condition:
        if self.is_word("NOT"):
            self.take()
            return Not(self.unary())
        if self.token.kind == "punct" and self.token.text == "(":
            self.take()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        path = self.path()
        if self.token.kind == "op":
            op = self.take().text
            return Comparison(path, "!=" if op == "<>" else op, [self.literal()])
        negated = False
        if self.is_word("NOT"):
            self.take()
            negated = True
            if not self.is_word("IN"):
                raise self.unexpected()
        if self.is_word("IN"):
            self.take()
            op = "NOT IN" if negated else "IN"
            self.expect_punct("(")
            if self.is_word("SELECT"):
                sub = self.query(nested=True)
                self.expect_punct(")")
                return Comparison(path, op, [], sub)
            values = [self.literal()]
            while self.token.kind == "punct" and self.token.text == ",":
                self.take()
                values.append(self.literal())
            self.expect_punct(")")
            return Comparison(path, op, values)
        if self.is_word("LIKE"):
            self.take()
            if self.token.kind != "string":
                raise self.unexpected()
            return Comparison(path, "LIKE", [self.literal()])
        raise self.unexpected()

    def literal(self) -> Literal:
        token = self.token
        if token.kind == "string":
            self.take()
            return Literal("string", token.value, token.at, token.text)
        if token.kind == "number":
            self.take()
            number = float(token.text) if any(c in token.text for c in ".") else int(token.text)
            return Literal("number", number, token.at, token.text)
        if token.kind == "date":
            self.take()
            try:
                return Literal("date", date.fromisoformat(token.text), token.at, token.text)
            except ValueError:
                raise _malformed(
                    self.text,
                    token.at,
                    f"line 1:{token.at} no viable alternative at character '{token.text}'",
                ) from None
        if token.kind == "datetime":
            self.take()
            try:
                return Literal("datetime", parse_datetime(token.text), token.at, token.text)
            except ValueError:
                raise _malformed(self.text, token.at, f"unexpected token: '{token.text}'") from None
        if token.kind == "word":
            upper = token.text.upper()
            if upper in ("TRUE", "FALSE"):
                self.take()
                return Literal("boolean", upper == "TRUE", token.at, token.text)
            if upper == "NULL":
                self.take()
                return Literal("null", None, token.at, token.text)
            if upper in _RELATIVE_FIXED or upper in _RELATIVE_N:
                self.take()
                amount = None
                if upper in _RELATIVE_N:
                    self.expect_punct(":")
                    if self.token.kind != "number" or not self.token.text.isdigit():
                        raise self.unexpected()
                    amount = int(self.take().text)
                elif self.token.kind == "punct" and self.token.text == ":":
                    raise self.unexpected()
                return Literal("relative", (upper, amount), token.at, token.text)
            raise _malformed(self.text, token.at, f"unexpected token: '{token.text}'")
        raise self.unexpected()


def parse(text: str) -> Query:
    """Parse a SOQL statement; raises QueryError (MALFORMED_QUERY) naming the offending token."""
    if not text.strip():
        raise QueryError("MALFORMED_QUERY", "The query string is empty")
    return _Parser(text).query()


# --- relative date literals -------------------------------------------------------------


def _week_start(day: date) -> date:
    return day - timedelta(days=(day.weekday() + 1) % 7)  # weeks start on Sunday (en_US locale)


def _month_range(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def _shift_month(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


_RELATIVE_FIXED: dict[str, Callable[[date], tuple[date, date]]] = {
    "TODAY": lambda t: (t, t),
    "YESTERDAY": lambda t: (t - timedelta(days=1),) * 2,
    "TOMORROW": lambda t: (t + timedelta(days=1),) * 2,
    "THIS_WEEK": lambda t: (_week_start(t), _week_start(t) + timedelta(days=6)),
    "LAST_WEEK": lambda t: (_week_start(t) - timedelta(days=7), _week_start(t) - timedelta(days=1)),
    "NEXT_WEEK": lambda t: (_week_start(t) + timedelta(days=7), _week_start(t) + timedelta(days=13)),
    "THIS_MONTH": lambda t: _month_range(t.year, t.month),
    "LAST_MONTH": lambda t: _month_range(*_shift_month(t, -1)),
    "NEXT_MONTH": lambda t: _month_range(*_shift_month(t, 1)),
    "THIS_YEAR": lambda t: (date(t.year, 1, 1), date(t.year, 12, 31)),
    "LAST_90_DAYS": lambda t: (t - timedelta(days=90), t),
    "NEXT_90_DAYS": lambda t: (t + timedelta(days=1), t + timedelta(days=90)),
}
_RELATIVE_N: dict[str, Callable[[date, int], tuple[date, date]]] = {
    # "Includes today": from n days ago through today.
    "LAST_N_DAYS": lambda t, n: (t - timedelta(days=n), t),
    # Starts tomorrow, n days long; today is not included.
    "NEXT_N_DAYS": lambda t, n: (t + timedelta(days=1), t + timedelta(days=n)),
    "N_DAYS_AGO": lambda t, n: (t - timedelta(days=n),) * 2,
    "N_DAYS_FROM_NOW": lambda t, n: (t + timedelta(days=n),) * 2,
}


# --- evaluation ---------------------------------------------------------------------------


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
        candidates: Iterable[dict[str, Any]] = self.org.iter_rows(
            obj.name, include_deleted=self.include_deleted
        )
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
            inside = op == "IN"
            return lambda r: any(_compare(value(r), "=", o) for o in operands) == inside
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


@dataclass(frozen=True)
class _DayRange:
    low: date
    high: date


def _type_word(kind: str) -> str:
    return {
        "datetime": "dateTime",
        "int": "int",
        "double": "double",
        "currency": "double",
        "percent": "double",
    }.get(kind, "boolean" if kind == "boolean" else "date" if kind == "date" else "string")


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


def run(
    org: Org, text: str, *, include_deleted: bool = False, today: date | None = None, version: str = "59.0"
) -> QueryResult:
    """Parse and run a SOQL statement against `org`. `today` (default: the org clock's UTC date)
    anchors relative date literals; `include_deleted` is queryAll."""
    query = parse(text)
    with org.lock:
        anchor = today or org.clock().astimezone(UTC).date()
        evaluator = _Evaluator(org, text, include_deleted=include_deleted, today=anchor, version=version)
        return evaluator.run(query)
