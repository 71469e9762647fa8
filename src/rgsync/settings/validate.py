"""Checking a parsed settings table against the schema: every problem names the key, file and line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgsync.settings.errors import SettingsError, closest, located
from rgsync.settings.locate import Layout
from rgsync.settings.schema import ALL_KEYS, KEYS, Key, looks_like_secret, secret_refusal, table_paths
from rgsync.settings.values import check_value

_CLI_NAMES: dict[str, Key] = {k.name: k for k in KEYS}


@dataclass(frozen=True)
class Vocabulary:
    """The keys and tables one part of a file may hold, by path relative to where that part starts."""

    keys: Mapping[tuple[str, ...], Key]
    tables: frozenset[tuple[str, ...]]


SETTINGS_VOCABULARY = Vocabulary(keys={k.path: k for k in ALL_KEYS}, tables=table_paths())


@dataclass
class ReadValues:
    """What a file (or one part of it) sets: typed values, the line of each, and the problems found."""

    values: dict[Key, object] = field(default_factory=dict)
    lines: dict[Key, int] = field(default_factory=dict)
    problems: list[SettingsError] = field(default_factory=list)


def read_values(
    data: Mapping[str, Any],
    layout: Layout,
    file: Path,
    *,
    base: tuple[str, ...] = (),
    vocabulary: Vocabulary = SETTINGS_VOCABULARY,
) -> ReadValues:
    """Check `data` (plain Python values of the table at `base`) and collect typed values and problems."""
    found = ReadValues()

    def walk(node: Mapping[str, Any], rel: tuple[str, ...]) -> None:
        for name, value in node.items():
            here = (*rel, name)
            full = ".".join((*base, *here))
            line = layout.line_of((*base, *here))
            key = vocabulary.keys.get(here)
            if key is not None:
                try:
                    if isinstance(value, dict):
                        raise SettingsError(f"{key.name} is a single value, not a table")
                    found.values[key] = check_value(key, value)
                except SettingsError as exc:
                    found.problems.append(_problem(file, line, key.name, exc.message))
                    continue
                if line is not None:
                    found.lines[key] = line
            elif looks_like_secret(name):
                found.problems.append(_problem(file, line, full, secret_refusal(".".join(here))))
            elif here in vocabulary.tables and isinstance(value, dict):
                walk(value, here)
            elif here in vocabulary.tables:
                text = f"'{full}' is a table of settings, not a single value; write it as [{full}] with its keys below"
                found.problems.append(_problem(file, line, full, text))
            else:
                found.problems.append(
                    _unknown(here, base, file, line, vocabulary, is_table=isinstance(value, dict))
                )

    walk(data, ())
    return found


def _problem(file: Path, line: int | None, key: str, text: str) -> SettingsError:
    return SettingsError(located(file, line, text), key=key, file=file, line=line)


def _unknown(
    here: tuple[str, ...],
    base: tuple[str, ...],
    file: Path,
    line: int | None,
    vocabulary: Vocabulary,
    *,
    is_table: bool,
) -> SettingsError:
    leaf, parent = here[-1], here[:-1]
    full = ".".join((*base, *here))
    cli_key = _CLI_NAMES.get(leaf)
    if cli_key is not None and cli_key.leaf != leaf and cli_key.path in vocabulary.keys:
        # The command-line name written into the file; say what the file calls it.
        hint = f" — '{leaf}' is the command-line name; in the file it is '{cli_key.leaf}' under [{'.'.join((*base, *cli_key.table))}]"
    else:
        hint = _suggest(leaf, parent, base, vocabulary)
    what = "table" if is_table else "setting"
    return SettingsError(
        located(file, line, f"unknown {what} '{full}'{hint}"), key=full, file=file, line=line
    )


def _suggest(leaf: str, parent: tuple[str, ...], base: tuple[str, ...], vocabulary: Vocabulary) -> str:
    """` — did you mean …?`: a neighbour in the same table first, else the closest path anywhere."""
    known = [*vocabulary.keys, *vocabulary.tables]
    siblings = {p[-1]: p for p in known if p[:-1] == parent}
    match = closest(leaf, siblings)
    if match is not None:
        key = vocabulary.keys.get(siblings[match])
        also = f" ({key.name})" if key is not None and key.name not in (key.leaf, key.dotted) else ""
        return f" — did you mean '{match}'{also}?"
    # The table the key sits in is no useful answer to "which key did you mean".
    paths = {".".join(p): p for p in known if p != parent[: len(p)]}
    found = closest(".".join((*parent, leaf)), paths)
    return f" — did you mean '{'.'.join((*base, *paths[found]))}'?" if found else ""
