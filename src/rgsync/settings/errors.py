"""The settings error: one line naming the key, the file, the line and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path

from rgsync.errors import UsageError


class SettingsError(UsageError):
    """A settings problem the user can fix (exit 2).

    `message` is complete and printable: it starts with `FILE line N:` when the problem is in a file.
    `key`, `file` and `line` are kept for callers that render problems themselves. `problems` holds
    every problem found when several were (the first one is also `message`'s subject).
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        file: Path | None = None,
        line: int | None = None,
        problems: Sequence[SettingsError] = (),
    ) -> None:
        super().__init__(message)
        self.key = key
        self.file = file
        self.line = line
        self.problems: tuple[SettingsError, ...] = tuple(problems) or (self,)


def located(file: Path | None, line: int | None, text: str) -> str:
    """Prefix `text` with where it happened: `FILE line N: text` (or `FILE: text`)."""
    if file is None:
        return text
    return f"{file} line {line}: {text}" if line else f"{file}: {text}"


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to `word` (ignoring case when nothing matches exactly), or None."""
    pool = list(dict.fromkeys(candidates))
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in pool}
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[matches[0]] if matches else None


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """` — did you mean 'X'?` for the closest candidate, or an empty string when none is close."""
    match = closest(word, candidates, cutoff)
    return f" — did you mean '{match}'?" if match else ""


def combine(problems: Sequence[SettingsError]) -> SettingsError:
    """One error carrying several problems: the first one's message, plus a count of the others."""
    first = problems[0]
    if len(problems) == 1:
        return first
    more = len(problems) - 1
    message = f"{first.message} (and {more} more problem{'s' if more > 1 else ''}; `rgsync settings validate` lists them)"
    return SettingsError(message, key=first.key, file=first.file, line=first.line, problems=problems)
