"""Every third-party module rgsync imports comes from a dependency pyproject.toml declares, so an
install never works only because another package happened to bring it along."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "rgsync"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match, requirement
        names.add(_normalise(match.group(1)))
    return names


def imported_modules() -> dict[str, set[str]]:
    """Dotted module names imported anywhere in src/rgsync (absolute imports), with their files."""
    found: dict[str, set[str]] = {}
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def providers_of(module: str) -> set[str]:
    """The installed distributions providing `module`; for a namespace package shared by several
    (`google`), only those that ship the imported sub-package."""
    parts = module.split(".")
    candidates = set(packages_distributions().get(parts[0], []))
    if len(candidates) > 1 and len(parts) > 1:
        prefix = f"{parts[0]}/{parts[1]}"
        candidates = {
            name
            for name in candidates
            if any(
                str(file).startswith((prefix + "/", prefix + ".")) for file in distribution(name).files or []
            )
        }
    return {_normalise(name) for name in candidates}


def test_every_third_party_import_is_a_declared_dependency() -> None:
    wanted = declared()
    missing = []
    third_party = {
        module: files
        for module, files in imported_modules().items()
        if module.split(".")[0] not in sys.stdlib_module_names and module.split(".")[0] != "rgsync"
    }
    assert {"click", "exchangelib", "lxml", "httplib2"} <= {m.split(".")[0] for m in third_party}
    for module, files in sorted(third_party.items()):
        providers = providers_of(module)
        assert providers, f"{module} (imported in {sorted(files)[0]}) is not installed"
        if not providers & wanted:
            missing.append(f"{module} from {sorted(providers)} (imported in {sorted(files)[0]})")
    assert missing == [], "declare in pyproject.toml:\n" + "\n".join(missing)
