"""Line numbers for messages: every key and table of a TOML text is found at its line."""

from __future__ import annotations

from rgsync.settings.locate import scan

TEXT = '''\
# comment with [brackets] and key = value
top = 1
[general.emails]
auto-save = true  # trailing
"quoted key" = 'x'
multi = """
line = not a key
"""
list = [
  "a", # comment ] with bracket
  ["nested", "b"],
]
inline = { a = 1, b = { c = 2 } }
dotted.x.y = 3

[[arr]]
k = 1
[sync]
max-deletes = 50
'''


def test_scan_finds_every_key_and_header_line() -> None:
    layout = scan(TEXT)
    assert layout.keys[("top",)] == 2
    assert layout.headers[("general", "emails")] == 3
    assert layout.keys[("general", "emails", "auto-save")] == 4
    assert layout.keys[("general", "emails", "quoted key")] == 5
    assert layout.keys[("general", "emails", "multi")] == 6
    assert ("general", "emails", "line") not in layout.keys
    assert layout.keys[("general", "emails", "list")] == 9
    assert layout.keys[("general", "emails", "inline", "b", "c")] == 13
    assert layout.keys[("general", "emails", "dotted", "x", "y")] == 14
    assert layout.headers[("arr",)] == 16
    assert layout.keys[("sync", "max-deletes")] == 19


def test_plain_keys_are_single_line_keys_under_their_own_header() -> None:
    layout = scan(TEXT)
    assert ("general", "emails", "auto-save") in layout.plain
    assert ("sync", "max-deletes") in layout.plain
    for path in [
        ("general", "emails", "multi"),
        ("general", "emails", "list"),
        ("general", "emails", "inline"),
    ]:
        assert path not in layout.plain


def test_implied_tables_are_found_at_their_first_header() -> None:
    layout = scan(TEXT)
    assert layout.line_of(("general",)) == 3
    assert layout.line_of(("general", "emails", "missing")) == 3


def test_section_spans_to_the_next_header() -> None:
    layout = scan(TEXT)
    assert layout.section(("general", "emails"), 19) == (3, 15)
    assert layout.section(("sync",), 19) == (18, 19)
    assert layout.section(("nope",), 19) is None
