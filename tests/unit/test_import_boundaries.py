"""The rooms of DESIGN.md ("Boundaries") and the arrows between them, checked on the source.

A small walk over the syntax tree of every module under src/rgsync collects every `import` and
`from … import` it holds: at the top, inside functions (imported late to start fast) and under
`if TYPE_CHECKING:` alike, since each is an arrow a reader must follow. The rules:

* `rgsync.engine` imports only `rgsync.model`, and nothing outside the standard library;
* `rgsync.model` imports nothing of rgsync;
* the session (`rgsync.session`, its entry `rgsync.sync`, the provider `rgsync.registry`) imports
  everything below the CLI and nothing above: not the CLI, the demo room or the emulators;
* the CLI talks to what is below it through the session, the settings, the state store (read-only
  views), the registry of providers, the fleet and the demo room, plus the leaves (`model`, `errors`,
  `paths`, `logs`): it never opens a provider or a credentials store itself;
* `rgsync.providers` import `model`, `errors`, `credentials`, `paths` and their client
  libraries; never the engine, the state store, the settings, the session or the CLI;
* `rgsync.fleet` runs user sessions from the shared database, beside the session: it never imports
  the CLI, the demo room or the emulators;
* `rgsync.state` imports `model`, `errors`, `paths` and `credentials` (a PostgreSQL password);
* `rgsync.settings` imports its own package, `model`, `errors` and `paths`;
* the emulators (`rgsync.sandbox`) import nothing of rgsync but `model` and their own shared
  helpers: an emulator that leaned on the code it stands in front of would hide that code's bugs;
* the room where emulators meet the product (`rgsync.demo`) is imported by the CLI alone;
* no module reaches itself again by following imports (no import circles).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


@dataclass(frozen=True)
class Arrow:
    """`importer` imports `imported` (both module names) at `line`."""

    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported}"


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


@cache
def modules() -> dict[str, tuple[Path, bool]]:
    """Every module under src/rgsync: name → (file, whether it is a package's __init__)."""
    found = {}
    for path in sorted((SRC / "rgsync").rglob("*.py")):
        name, is_package = _module_name(path)
        found[name] = (path, is_package)
    return found


def _owner(name: str) -> str | None:
    """The rgsync module a dotted name lives in (`rgsync.model.Stream` → `rgsync.model`)."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imported_names(tree: ast.AST, importer: str, is_package: bool) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, importer, is_package)
            for alias in node.names:
                # `from rgsync.sandbox import graph` names a module; `from rgsync.model import Stream`
                # names something inside one.
                candidate = f"{source}.{alias.name}"
                yield (candidate if candidate in modules() else source), node.lineno


@cache
def arrows() -> tuple[Arrow, ...]:
    """Every import of an rgsync module by an rgsync module."""
    found = []
    for importer, (path, is_package) in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, line in _imported_names(tree, importer, is_package):
            if name == "rgsync" or not name.startswith("rgsync."):
                continue
            imported = _owner(name)
            if imported is not None and imported != importer:
                found.append(Arrow(importer, imported, line))
    return tuple(found)


@cache
def third_party(module: str) -> tuple[tuple[str, int], ...]:
    """The imports of `module` that are neither rgsync nor the standard library."""
    path, is_package = modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return tuple(
        (name, line)
        for name, line in _imported_names(tree, module, is_package)
        if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "rgsync"
    )


def _in(module: str, *rooms: str) -> bool:
    return any(module == room or module.startswith(room + ".") for room in rooms)


# Room → the rooms it may import (its own included); None: no rule for that room.
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "rgsync.model": ("rgsync.model",),
    "rgsync.engine": ("rgsync.engine", "rgsync.model"),
    "rgsync.providers": (
        "rgsync.providers",
        "rgsync.model",
        "rgsync.errors",
        "rgsync.credentials",
        "rgsync.paths",
        # The Windows <-> IANA time-zone names: a leaf over exchangelib's maps, no rgsync import.
        "rgsync.timezones",
    ),
    # The credentials store holds the password of a PostgreSQL state database (`state password`).
    "rgsync.state": ("rgsync.state", "rgsync.model", "rgsync.errors", "rgsync.paths", "rgsync.credentials"),
    "rgsync.settings": ("rgsync.settings", "rgsync.model", "rgsync.errors", "rgsync.paths"),
    "rgsync.sandbox": ("rgsync.sandbox", "rgsync.model"),
}
# Room → rooms it must not import, where DESIGN says what is above rather than what is below.
MUST_NOT_IMPORT: dict[str, tuple[str, ...]] = {
    "rgsync.session": ("rgsync.cli", "rgsync.demo", "rgsync.sandbox"),
    "rgsync.sync": ("rgsync.cli", "rgsync.demo", "rgsync.sandbox"),
    "rgsync.registry": ("rgsync.cli", "rgsync.demo", "rgsync.sandbox"),
    # The fleet runs the session for many users: it sits beside the session, under the CLI.
    "rgsync.fleet": ("rgsync.cli", "rgsync.demo", "rgsync.sandbox"),
}
MAY_IMPORT["rgsync.cli"] = (
    "rgsync.cli",
    "rgsync.session",
    "rgsync.sync",
    "rgsync.settings",
    "rgsync.state",
    "rgsync.registry",
    "rgsync.fleet",
    "rgsync.demo",
    "rgsync.model",
    "rgsync.errors",
    "rgsync.paths",
    "rgsync.logs",
)
DEMO_ROOM = "rgsync.demo"
DEMO_ROOM_USERS = ("rgsync.cli", DEMO_ROOM)


def room_violations() -> list[Arrow]:
    """Arrows that leave a room for one it may not import."""
    wrong = []
    for arrow in arrows():
        for room, allowed in MAY_IMPORT.items():
            if _in(arrow.importer, room) and not _in(arrow.imported, *allowed):
                wrong.append(arrow)
        for room, above in MUST_NOT_IMPORT.items():
            if _in(arrow.importer, room) and _in(arrow.imported, *above):
                wrong.append(arrow)
        if _in(arrow.imported, DEMO_ROOM) and not _in(arrow.importer, *DEMO_ROOM_USERS):
            wrong.append(arrow)
    return list(dict.fromkeys(wrong))


def circles() -> list[list[str]]:
    """The import circles: groups of modules each reachable from every other (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for arrow in arrows():
        graph[arrow.importer].add(arrow.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep chain of imports cannot hit the recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

    for name in graph:
        if name not in index:
            visit(name)
    return found


def _listing(found: list[Arrow]) -> str:
    return "\n".join(f"  {a} ({modules()[a.importer][0].relative_to(SRC.parent)}:{a.line})" for a in found)


def test_every_room_imports_only_what_design_allows() -> None:
    """DESIGN "Boundaries": the engine, providers, state, settings and emulators keep to their arrows,
    and only the CLI reaches the demo room."""
    found = list(room_violations())
    assert not found, "imports across a boundary of DESIGN.md:\n" + _listing(found)


def test_the_engine_uses_the_standard_library_alone() -> None:
    """The engine is pure: no client library, no third-party package (DESIGN "Boundaries")."""
    found = [
        f"{name} ({module}:{line})"
        for module in modules()
        if _in(module, "rgsync.engine")
        for name, line in third_party(module)
    ]
    assert not found


def test_no_import_circles() -> None:
    """Following imports from any module never leads back to it."""
    assert circles() == []


# --- the walk itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "importer", "expected"),
    [
        ("from rgsync.model import Stream", "rgsync.engine.plan", "rgsync.model"),
        ("from rgsync.sandbox import graph", "rgsync.demo.story", "rgsync.sandbox.graph"),
        ("from .. import ids", "rgsync.sandbox.salesforce.store.org", "rgsync.sandbox.salesforce.ids"),
        ("from .store import Org", "rgsync.sandbox.salesforce.activities", "rgsync.sandbox.salesforce.store"),
        ("import rgsync.state", "rgsync.cli.status_cmd", "rgsync.state"),
    ],
)
def test_an_import_is_read_as_the_module_it_names(source: str, importer: str, expected: str) -> None:
    """Absolute and relative imports, of modules and of names inside them, resolve to one module."""
    is_package = importer in modules() and modules()[importer][1]
    (name, _line), *_ = _imported_names(ast.parse(source), importer, is_package)
    assert _owner(name) == expected


def test_a_late_or_type_only_import_is_an_arrow_too() -> None:
    """Imports inside functions and under TYPE_CHECKING count: the circles they make are real."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from rgsync.state import StateStore\n"
        "def f():\n    from rgsync.session import SessionResult\n"
    )
    names = {name for name, _ in _imported_names(tree, "rgsync.providers.x", False)}
    assert {"rgsync.state", "rgsync.session"} <= names
