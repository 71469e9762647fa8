"""Building SOQL safely: every value placed in a query goes through one of these helpers.

Nothing else in the adapter formats a value into SOQL. Strings are quoted with Salesforce's escape
sequences (quote, backslash, newline, …), Ids are checked to be Ids, datetimes are written as UTC
literals. `IN` lists are split into chunks so that each query stays under the REST URI limit
(16,384 bytes for the URI and headers; a query goes in the `q` parameter, URL-encoded).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from urllib.parse import urlencode

# Room left for the rest of the URI (scheme, host, /services/data/vXX.X/query/?) and the headers,
# out of the 16,384 bytes Salesforce accepts.
MAX_ENCODED_QUERY = 12_000

_ID = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
# Other control characters have no SOQL escape; they cannot be part of an address or a subject
# anyone means, so they are dropped rather than sent.
_CONTROL = re.compile(r"[\x00-\x07\x0b\x0e-\x1f\x7f]")


def text(value: str) -> str:
    """A SOQL string literal for `value`, quoted and escaped."""
    cleaned = _CONTROL.sub("", value)
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in cleaned) + "'"


def like(value: str, *, prefix: str = "%", suffix: str = "%") -> str:
    """A LIKE pattern literal matching `value` literally, wrapped in `prefix`/`suffix` wildcards."""
    cleaned = _CONTROL.sub("", value)
    escaped = "".join(_ESCAPES.get(ch, ch) for ch in cleaned).replace("%", "\\%").replace("_", "\\_")
    return f"'{prefix}{escaped}{suffix}'"


def record_id(value: str) -> str:
    """A quoted Id literal; anything that is not a 15/18-character Id is refused (never sent)."""
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(f"not a Salesforce Id: {value!r}")
    return f"'{value}'"


def is_id(value: object) -> bool:
    """True for a 15- or 18-character record Id."""
    return isinstance(value, str) and bool(_ID.match(value))


def datetime_literal(value: datetime) -> str:
    """A SOQL dateTime literal in UTC (SOQL compares to the second)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} cannot be placed in SOQL")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def date_literal(value: date) -> str:
    """A SOQL date literal."""
    return value.isoformat()


def in_list(literals: Iterable[str], separator: str = ", ") -> str:
    """`(a, b, c)` from already-made literals (or `(x OR y)` with separator ' OR ')."""
    return "(" + separator.join(literals) + ")"


def encoded_length(soql: str) -> int:
    """How many bytes the query takes in a URI's query string."""
    return len(urlencode({"q": soql}))


def chunked_in_queries(
    build: Callable[[str], str],
    values: Sequence[str],
    literal: Callable[[str], str] = text,
    separator: str = ", ",
) -> list[str]:
    """Queries `build(list)` covering every value, each small enough for a GET URI.

    `build` receives the parenthesised list (`('a', 'b')`, or conditions joined by `separator`,
    e.g. ' OR ') and returns the whole query. Values are packed greedily by their URL-encoded
    size, so 1,000 addresses take a handful of queries, never one per address.
    """
    queries: list[str] = []
    base = encoded_length(build(in_list([])))
    current: list[str] = []
    size = base
    for value in values:
        item = literal(value)
        cost = encoded_length(item + separator) - len("q=")
        if current and size + cost > MAX_ENCODED_QUERY:
            queries.append(build(in_list(current, separator)))
            current, size = [], base
        current.append(item)
        size += cost
    if current:
        queries.append(build(in_list(current, separator)))
    return queries


# --- reading a list view's SOQL ----------------------------------------------------------------

_CLAUSE_WORDS = ("WHERE", "ORDER", "LIMIT", "OFFSET", "GROUP", "HAVING", "WITH", "FOR", "USING")


def _top_level_words(soql: str) -> list[tuple[int, str]]:
    """(position, upper-case word) of the words outside quotes and parentheses."""
    found: list[tuple[int, str]] = []
    depth = 0
    i = 0
    n = len(soql)
    while i < n:
        ch = soql[i]
        if ch == "'":
            i += 1
            while i < n and soql[i] != "'":
                i += 2 if soql[i] == "\\" else 1
            i += 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch.isalpha() and depth == 0 and (i == 0 or not (soql[i - 1].isalnum() or soql[i - 1] in "_.")):
            j = i
            while j < n and (soql[j].isalnum() or soql[j] in "_.:"):
                j += 1
            found.append((i, soql[i:j].upper()))
            i = j
            continue
        i += 1
    return found


def split_view_query(soql: str) -> tuple[str, str]:
    """The `USING SCOPE` value and the WHERE condition of a list view's query ('' when absent).

    List view describe returns a whole query (`SELECT … FROM Contact USING SCOPE mine WHERE … ORDER
    BY …`); rgsync keeps only the filter and runs it with its own field list and sync conditions.
    """
    words = _top_level_words(soql)
    scope = ""
    where = ""
    for index, (position, word) in enumerate(words):
        if word == "USING" and index + 2 < len(words) and words[index + 1][1] == "SCOPE":
            scope = words[index + 2][1].lower()
        if word == "WHERE":
            start = position + len("WHERE")
            end = len(soql)
            for later_position, later in words[index + 1 :]:
                if later in _CLAUSE_WORDS:
                    end = later_position
                    break
            where = soql[start:end].strip()
    return scope, where
