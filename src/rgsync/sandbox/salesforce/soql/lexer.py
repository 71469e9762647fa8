"""SOQL tokens: words, string/number/date/date-time literals, operators and punctuation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import _malformed

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


_PLAIN_RUN = re.compile(r"[^'\\]+")


def _read_string(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    at = start + 1
    while at < len(text):
        # Characters that are neither a quote nor a backslash go in one piece: a query names
        # hundreds of addresses, one string literal each.
        run = _PLAIN_RUN.match(text, at)
        if run is not None:
            out.append(run.group())
            at = run.end()
            continue
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
