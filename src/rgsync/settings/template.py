"""The commented settings file: every key present but commented out, with its meaning and default.

A new settings file starts from this text, so a user who opens it sees everything that exists; the
values being set are written uncommented in their table. examples/settings.toml is the same text.

Regenerate the example after changing the schema:
    python -c "from rgsync.settings.template import render_example as r; print(r(), end='')" > examples/settings.toml
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from rgsync.settings.schema import ALL_KEYS, Key, KeyType
from rgsync.settings.values import format_value, toml_text

HEADER = """\
# rgsync settings (one file per user; the tables mirror the tabs of the Sync Settings page).
#
# Every setting is listed below, commented out, with its meaning and its built-in default.
# Remove the leading '#' to change one, or run `rgsync settings set KEY VALUE` (KEY is the name
# after each '#'), which keeps your comments and layout. `rgsync settings list` shows the values
# in effect and where each comes from: default, policy (your admin's default), user (this file)
# or forced (set by your admin; cannot be changed here).
#
# Booleans are true/false here (on/off on the command line). Lists are ["a", "b"].
# Secrets (passwords, tokens, private keys) never go in this file: `rgsync connect` keeps them
# in the OS keyring.
"""

EXAMPLE_INTRO = """\
# Example settings file. `rgsync settings path` prints where yours lives; the first
# `rgsync settings set KEY VALUE` creates it with exactly this content, the value set uncommented.
#
"""

TABLE_TITLES: dict[tuple[str, ...], str] = {
    ("general", "emails"): "General tab: emails (SPEC §3)",
    ("general", "events"): "General tab: calendar items (SPEC §4)",
    ("general", "tasks"): "General tab: tasks (SPEC §5)",
    ("general", "contacts"): "General tab: contacts (SPEC §6)",
    ("linking",): "Linking tab (SPEC §3.5)",
    ("blocklist",): "Blocklist tab (SPEC §3.2); `rgsync blocklist add|remove` edits the two lists",
    ("sync",): "Sync: cadence and safety limits (SPEC §7)",
    ("mailbox",): "Mailbox connection (`rgsync connect gmail|exchange|microsoft365` fills this in)",
    ("salesforce",): "Salesforce connection (`rgsync connect salesforce` fills this in)",
}


def describe(key: Key) -> list[str]:
    """The comment lines above a key: its name, meaning, allowed values and default."""
    allowed = {
        KeyType.BOOL: "on/off",
        KeyType.CHOICE: " / ".join(key.choices),
        KeyType.INT: f"{key.minimum}–{key.maximum}" if key.maximum is not None else "a whole number",
    }.get(key.type)
    details = [allowed] if allowed else []
    if key.default is not None:
        shown = format_value(key, key.default)
        details.append(f"default {shown}" if shown else "default empty")
    text = f"{key.name}: {key.help}." + (f" {', '.join(details)}." if details else "")
    return textwrap.wrap(text, width=110, initial_indent="# ", subsequent_indent="#   ")


def render_template(values: Mapping[Key, object] | None = None) -> str:
    """The full commented settings file; keys in `values` are written uncommented with that value."""
    chosen = dict(values or {})
    tables: dict[tuple[str, ...], list[Key]] = {}
    for key in ALL_KEYS:
        tables.setdefault(key.table, []).append(key)
    out = [HEADER.rstrip("\n")]
    for table, keys in tables.items():
        title = TABLE_TITLES.get(table)
        out.append("")
        if title:
            out.append(f"# --- {title}")
        out.append(f"[{'.'.join(table)}]")
        for key in keys:
            out.extend(describe(key))
            if key in chosen:
                out.append(f"{key.leaf} = {toml_text(chosen[key])}")
            else:
                shown = key.default if key.default is not None else key.example
                out.append(f"# {key.leaf} = {toml_text(shown if shown is not None else '')}")
            out.append("")
        if out[-1] == "":
            out.pop()
    return "\n".join(out) + "\n"


def render_example() -> str:
    """The text of examples/settings.toml: the commented template with a short introduction."""
    return EXAMPLE_INTRO + render_template()
