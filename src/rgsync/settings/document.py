"""Reading and writing TOML files so that a user's comments, order and formatting survive.

Reads keep the exact text (line endings, a byte-order mark) so that a write changes only the lines
it means to. Writes are atomic: the new text goes to a temporary file in the same folder, which then
replaces the old one, keeping its permissions. Edits prefer the smallest change: a value already in
the file is replaced in place; a key commented out in its table (as in the template) is uncommented
where it stands; `unset` comments the line out again; anything else goes through tomlkit.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container, OutOfOrderTableProxy
from tomlkit.exceptions import ParseError
from tomlkit.items import Array, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

from rgsync.paths import UnsafePathError, check_regular_file
from rgsync.settings.errors import SettingsError, located
from rgsync.settings.locate import Layout, scan
from rgsync.settings.schema import Key
from rgsync.settings.template import render_template
from rgsync.settings.values import toml_item, toml_text

BOM = "\ufeff"
NEW_FILE_MODE = 0o600  # the file names the user's accounts; nobody else needs to read it
_AT_LINE = re.compile(r"\s+at line \d+ col \d+$")


@dataclass
class TomlFile:
    """A TOML file as read: its exact text, the parsed document and where each key is written."""

    path: Path
    text: str
    doc: TOMLDocument
    layout: Layout
    bom: bool = False


def read_text(path: Path) -> tuple[str, bool] | None:
    """The file's text exactly as stored (newlines untouched) and whether it had a BOM; None if missing."""
    raw = _read_regular(path)
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SettingsError(
            located(path, line, "is not UTF-8 text; save it as UTF-8"), file=path, line=line
        ) from None
    if text.startswith(BOM):
        return text[1:], True
    return text, False


def _check_regular(path: Path) -> None:
    try:
        check_regular_file(path, "file")
    except UnsafePathError as exc:
        raise SettingsError(exc.message, file=path) from None


def _read_regular(path: Path) -> bytes | None:
    """The bytes of the regular file at `path`, None when missing; anything else is refused.

    Opened without blocking and checked on the open descriptor, so a named pipe put there (even
    between a check and the read) is refused at once instead of waiting forever for a writer.
    """
    _check_regular(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise SettingsError(f"{path} is a folder, not a settings file", file=path) from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SettingsError(f"cannot read {path}: {reason}", file=path) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SettingsError(
                f"{path} is not a regular file (a device, pipe or socket); rgsync reads only regular files",
                file=path,
            )
        chunks: list[bytes] = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}", file=path) from None
    finally:
        os.close(fd)


def parse(text: str, path: Path) -> TOMLDocument:
    """Parse TOML text; a syntax error becomes a `SettingsError` naming the file and the line."""
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        reason = _AT_LINE.sub("", str(exc))
        raise SettingsError(
            located(
                path, exc.line, f"not valid TOML ({reason}); fix that line or run `rgsync settings edit`"
            ),
            file=path,
            line=exc.line,
        ) from None


def read_toml(path: Path) -> TomlFile | None:
    """Read and parse a TOML file, or None when it does not exist."""
    found = read_text(path)
    if found is None:
        return None
    text, bom = found
    return TomlFile(path=path, text=text, doc=parse(text, path), layout=scan(text), bom=bom)


def atomic_write(path: Path, text: str, *, bom: bool = False) -> None:
    """Replace `path` with `text` in one step, keeping the file's permissions (0600 for a new file).

    A symlinked settings file is followed, so the link stays and its target is updated. Anything
    but a regular file (or nothing) at the target is refused and left untouched (SPEC §7.11).
    """
    _check_regular(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    _check_regular(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = NEW_FILE_MODE
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise SettingsError(f"cannot write {path}: {exc.strerror or exc}", file=path) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write((BOM if bom else "") + text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise SettingsError(f"cannot write {path}: {exc.strerror or exc}", file=path) from exc
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder entry is on disk; not every platform allows this.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- edits --------------------------------------------------------------------------------------


def _get(doc: Container | Table | InlineTable, path: tuple[str, ...]) -> Any:
    node: Any = doc
    for part in path:
        if not isinstance(node, Container | Table | InlineTable | OutOfOrderTableProxy) or part not in node:
            return None
        node = node[part]
    return node


def _table_for_write(doc: TOMLDocument, key: Key, path: Path) -> Any:
    """The table holding `key`, creating the tables that are missing."""
    node: Any = doc
    for depth, part in enumerate(key.table):
        if part not in node:
            last = depth == len(key.table) - 1
            node[part] = tomlkit.table(is_super_table=not last)
        child = node[part]
        if not isinstance(child, Table | InlineTable | OutOfOrderTableProxy):
            where = ".".join(key.table[: depth + 1])
            raise SettingsError(
                f"{path}: cannot set {key.name} because '{where}' is not a table in that file; "
                "fix it with `rgsync settings edit`",
                file=path,
                key=key.name,
            )
        node = child
    return node


def _line_ending(line: str) -> str:
    return "\r\n" if line.endswith("\r\n") else "\n"


def _edit_text(
    text: str, layout: Layout, key: Key, value: object | None, *, present: bool, table_exists: bool
) -> str | None:
    """The smallest line edit that makes the change, or None when a line edit cannot do it."""
    lines = text.splitlines(keepends=True)
    if value is None:
        if key.path not in layout.plain:
            return None
        index = layout.keys[key.path] - 1
        old = lines[index]
        indent = old[: len(old) - len(old.lstrip())]
        if key.default is None:
            del lines[index]
        else:
            lines[index] = f"{indent}# {key.leaf} = {toml_text(key.default)}{_line_ending(old)}"
        return "".join(lines)
    if present:
        return None  # replaced through tomlkit, which keeps the line's own comment
    section = layout.section(key.table, len(lines))
    if section is None:
        if not table_exists:
            # A new table goes at the end, set off by a blank line like the rest of the file.
            gap = "" if not text or text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"
            return f"{text}{gap}[{'.'.join(key.table)}]\n{key.leaf} = {toml_text(value)}\n"
        return None
    commented = re.compile(rf"^(\s*)#\s*{re.escape(key.leaf)}\s*=")
    for index in range(section[0], section[1]):
        match = commented.match(lines[index])
        if match:
            lines[index] = f"{match.group(1)}{key.leaf} = {toml_text(value)}{_line_ending(lines[index])}"
            return "".join(lines)
    # Otherwise the key goes after the last line of its table, before the blank lines that follow.
    last = max((i for i in range(section[0] - 1, section[1]) if lines[i].strip()), default=section[0] - 1)
    ending = _line_ending(lines[last])
    if not lines[last].endswith(("\n", "\r")):
        lines[last] += ending
    lines.insert(last + 1, f"{key.leaf} = {toml_text(value)}{ending}")
    return "".join(lines)


def _edit_doc(doc: TOMLDocument, key: Key, value: object | None, path: Path) -> None:
    if value is None:
        parent = _get(doc, key.table)
        if parent is not None and key.leaf in parent:
            del parent[key.leaf]
        return
    table = _table_for_write(doc, key, path)
    existing = table.get(key.leaf)
    if isinstance(existing, Array) and isinstance(value, list):
        kept = [str(v) for v in existing if v in value]
        if kept + [v for v in value if v not in kept] == value:
            # Change the array in place so the entries kept keep their own comments and layout.
            for item in [v for v in existing if v not in value]:
                existing.remove(item)
            existing.extend(v for v in value if v not in kept)
            return
    if isinstance(table, Table) and key.leaf not in table:
        table.add(key.leaf, toml_item(value))
        return
    table[key.leaf] = toml_item(value)


def _change_one(text: str, path: Path, key: Key, value: object | None) -> str:
    doc = parse(text, path)
    layout = scan(text)
    present = _get(doc, key.path) is not None
    if value is None and not present:
        return text
    candidate = _edit_text(
        text, layout, key, value, present=present, table_exists=_get(doc, key.table) is not None
    )
    if candidate is not None and _holds(candidate, path, key, value):
        return candidate
    _edit_doc(doc, key, value, path)
    result = doc.as_string()
    if not _holds(result, path, key, value):
        raise SettingsError(
            f"{path}: could not write {key.name}; fix the file with `rgsync settings edit`", file=path
        )
    return result


def _holds(text: str, path: Path, key: Key, value: object | None) -> bool:
    try:
        found = _get(parse(text, path), key.path)
    except SettingsError:
        return False
    if value is None:
        return found is None
    plain = found.unwrap() if hasattr(found, "unwrap") else found
    return bool(plain == value)


def apply_changes(path: Path, changes: Mapping[Key, object | None]) -> bool:
    """Write typed values into the settings file (None = remove the key) in one atomic write.

    A missing file is created from the commented template with the new values uncommented.
    Returns True when the file was created.
    """
    found = read_text(path)
    if found is None:
        chosen = {k: v for k, v in changes.items() if v is not None}
        atomic_write(path, render_template(chosen))
        return True
    text, bom = found
    updated = text
    for key, value in changes.items():
        updated = _change_one(updated, path, key, value)
    if updated != text:
        atomic_write(path, updated, bom=bom)
    return False
