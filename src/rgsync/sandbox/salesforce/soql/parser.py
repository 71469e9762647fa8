"""The SOQL parser: recursive descent over the tokens into the tree of syntax.py (`parse`).

Mixing AND and OR without parentheses is refused, as Salesforce does; so are OFFSET above
2,000 and the clauses this org does not support (GROUP BY, HAVING, WITH, FOR, USING).
"""

from __future__ import annotations

from datetime import date

from ..values import parse_datetime
from .dates import _RELATIVE_FIXED, _RELATIVE_N
from .errors import QueryError, _located, _malformed
from .lexer import Token, tokenize
from .syntax import Comparison, Condition, Count, Junction, Literal, Not, OrderKey, Path, Query

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
