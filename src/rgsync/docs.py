"""Parts of README.md generated from the code, so the documentation cannot drift from it.

`python -m rgsync.docs` rewrites the generated blocks of README.md in place; a test fails when the
README and the code disagree. Blocks sit between `<!-- NAME:start -->` and `<!-- NAME:end -->`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from rgsync.settings.schema import KEYS, Key, KeyType


def _default(key: Key) -> str:
    value = key.default
    if key.type is KeyType.BOOL:
        return "on" if value else "off"
    if isinstance(value, list | tuple):
        return "[]" if not value else ", ".join(map(str, value))
    if value in (None, ""):
        return '""'
    return str(value)


def _values(key: Key) -> str:
    if key.choices:
        return " / ".join(key.choices)
    if key.type is KeyType.INT:
        if key.minimum is not None and key.maximum is not None:
            return f"{key.minimum}–{key.maximum}"
        if key.minimum is not None:
            return f"≥ {key.minimum}"
        return "number"
    return {
        KeyType.BOOL: "on / off",
        KeyType.ADDRESSES: "addresses",
        KeyType.DOMAINS: "domains",
        KeyType.TEXT: "text",
    }.get(key.type, key.type.value)


def settings_table() -> str:
    """The settings reference: one row per key of SPEC §1, from the schema."""
    rows = [
        "| setting (CLI key) | in settings.toml | values | default | what it does |",
        "|---|---|---|---|---|",
    ]
    for key in KEYS:
        rows.append(f"| `{key.name}` | `{key.dotted}` | {_values(key)} | {_default(key)} | {key.help} |")
    return "\n".join(rows)


BLOCKS = {"settings-table": settings_table}


def render(readme: str) -> str:
    """README text with every generated block brought up to date."""
    for name, build in BLOCKS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(readme):
            raise ValueError(f"README has no <!-- {name}:start --> … <!-- {name}:end --> block")
        block = build()

        def fill(match: re.Match[str], text: str = block) -> str:
            return match.group(1) + text + "\n" + match.group(2)

        readme = pattern.sub(fill, readme)
    return readme


def main(argv: list[str] | None = None) -> int:
    path = Path((argv or sys.argv[1:] or ["README.md"])[0])
    text = path.read_text(encoding="utf-8")
    updated = render(text)
    if updated != text:
        path.write_text(updated, encoding="utf-8")
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
