"""Where each key and table of a TOML text is written, so that messages can name the line.

tomlkit keeps formatting but not line numbers, so this small scanner walks text that tomlkit has
already accepted and records the line of every table header and every key (dotted keys and inline
tables included). It only needs to understand enough TOML to skip values: strings of all four
kinds, arrays and inline tables spanning lines, and comments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

Path_ = tuple[str, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass
class Layout:
    """Line numbers (1-based) of a TOML text's keys and table headers.

    `keys` maps a key's full path to the line where it is assigned; `headers` maps a table path to
    its `[header]` line; `plain` holds the keys written as `leaf = value` on one line directly under
    their own table's header (the only ones safe to edit as a line of text).
    """

    keys: dict[Path_, int] = field(default_factory=dict)
    headers: dict[Path_, int] = field(default_factory=dict)
    plain: set[Path_] = field(default_factory=set)
    header_order: list[tuple[int, Path_]] = field(default_factory=list)

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of the nearest enclosing key or table that is written down.

        A table only implied by a deeper header (`[a.b]` implies `a`) is found at that header.
        """
        if path not in self.keys and path not in self.headers:
            inside = [
                line for p, line in (*self.headers.items(), *self.keys.items()) if p[: len(path)] == path
            ]
            if inside:
                return min(inside)
        for depth in range(len(path), 0, -1):
            prefix = path[:depth]
            if prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.headers:
                return self.headers[prefix]
        return None

    def section(self, table: Path_, total_lines: int) -> tuple[int, int] | None:
        """The lines `[first, last]` that belong to `table`'s header section, or None without a header."""
        for index, (line, path) in enumerate(self.header_order):
            if path == table:
                end = (
                    self.header_order[index + 1][0] - 1 if index + 1 < len(self.header_order) else total_lines
                )
                return line, end
        return None


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.layout = Layout()

    # -- low level ---------------------------------------------------------------------------
    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.i)

    def at_end(self) -> bool:
        return self.i >= len(self.text)

    def advance(self, count: int = 1) -> None:
        for _ in range(count):
            if self.i < len(self.text) and self.text[self.i] == "\n":
                self.line += 1
            self.i += 1

    def skip_blanks(self) -> None:
        while not self.at_end() and self.text[self.i] in " \t":
            self.i += 1

    def skip_space_and_comments(self) -> None:
        """Inside arrays and inline tables: whitespace, newlines and comments."""
        while not self.at_end():
            ch = self.text[self.i]
            if ch in " \t\r\n":
                self.advance()
            elif ch == "#":
                self.skip_comment()
            else:
                return

    def skip_comment(self) -> None:
        while not self.at_end() and self.text[self.i] != "\n":
            self.i += 1

    def read_string(self) -> str:
        """Read a string of any TOML kind starting at the cursor; returns its (roughly decoded) text."""
        for delim in ('"""', "'''"):
            if self.peek(delim):
                self.advance(3)
                start = self.i
                while not self.at_end() and not self.peek(delim):
                    self.advance(2 if delim == '"""' and self.text[self.i] == "\\" else 1)
                body = self.text[start : self.i]
                self.advance(3)
                while self.peek(delim[0]):  # up to two quotes may close the string itself
                    self.advance()
                return body
        quote = self.text[self.i]
        self.advance()
        start = self.i
        while not self.at_end() and self.text[self.i] != quote and self.text[self.i] != "\n":
            self.advance(2 if quote == '"' and self.text[self.i] == "\\" else 1)
        body = self.text[start : self.i]
        self.advance()
        if quote == '"':
            try:
                decoded: str = json.loads(f'"{body}"')
            except ValueError:
                return body
            return decoded
        return body

    def read_key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self.skip_blanks()
            if self.peek('"') or self.peek("'"):
                parts.append(self.read_string())
            else:
                start = self.i
                while not self.at_end() and self.text[self.i] in _BARE:
                    self.i += 1
                parts.append(self.text[start : self.i])
            self.skip_blanks()
            if self.peek("."):
                self.i += 1
                continue
            return parts

    # -- values ------------------------------------------------------------------------------
    def skip_value(self, prefix: Path_) -> None:
        self.skip_blanks()
        if self.peek('"') or self.peek("'"):
            self.read_string()
        elif self.peek("["):
            self.advance()
            while True:
                self.skip_space_and_comments()
                if self.at_end() or self.peek("]"):
                    self.advance()
                    return
                if self.peek(","):
                    self.advance()
                    continue
                self.skip_value(prefix)
        elif self.peek("{"):
            self.advance()
            while True:
                self.skip_space_and_comments()
                if self.at_end() or self.peek("}"):
                    self.advance()
                    return
                if self.peek(","):
                    self.advance()
                    continue
                self.assignment(prefix, inline=True)
        else:
            while not self.at_end() and self.text[self.i] not in ",]}\n#":
                self.i += 1

    def assignment(self, table: Path_, *, inline: bool = False) -> None:
        line = self.line
        parts = self.read_key()
        path = (*table, *parts)
        for depth in range(len(table) + 1, len(path) + 1):
            self.layout.keys.setdefault(path[:depth], line)
        self.skip_blanks()
        if self.peek("="):
            self.i += 1
        self.skip_blanks()
        is_table_value = self.peek("{")
        self.skip_value(path)
        if not inline and len(parts) == 1 and not is_table_value and self.line == line:
            self.layout.plain.add(path)

    def header(self) -> Path_:
        double = self.peek("[[")
        self.i += 2 if double else 1
        path = tuple(self.read_key())
        self.skip_blanks()
        self.i += 2 if double else 1
        self.layout.headers.setdefault(path, self.line)
        self.layout.header_order.append((self.line, path))
        return path

    def run(self) -> Layout:
        table: Path_ = ()
        while True:
            self.skip_blanks()
            if self.at_end():
                return self.layout
            ch = self.text[self.i]
            if ch in "\r\n":
                self.advance()
            elif ch == "#":
                self.skip_comment()
            elif ch == "[":
                table = self.header()
                self.skip_blanks()
                if self.peek("#"):
                    self.skip_comment()
            else:
                self.assignment(table)
                self.skip_blanks()
                if self.peek("#"):
                    self.skip_comment()
                elif not self.at_end() and self.text[self.i] not in "\r\n":
                    self.i += 1  # not valid TOML; move on rather than loop forever


def scan(text: str) -> Layout:
    """The layout of `text`, which must be TOML that tomlkit accepted."""
    return _Scanner(text).run()
