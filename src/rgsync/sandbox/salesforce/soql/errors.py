"""`QueryError`, and messages that show the query with a caret under the offending token, its row
and column, and what was wrong (as Salesforce words them).
"""

from __future__ import annotations

from ..errors import RequestError


class QueryError(RequestError):
    """A query Salesforce would refuse (HTTP 400)."""


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
