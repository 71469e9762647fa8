"""The scenarios rgsync ships (demo, minimal): where their files are, how a command-line value
names one, and the one-line summary of a scenario."""

from __future__ import annotations

import contextlib
from importlib import resources
from pathlib import Path

from rgsync.errors import UsageError
from rgsync.sandbox.scenario import Scenario

BUILT_IN_SCENARIOS = ("demo", "minimal")


def demo_scenario_file(name: str = "demo") -> Path:
    """A built-in scenario: shipped inside the package, or examples/scenarios/NAME.toml in a checkout."""
    packaged = resources.files("rgsync.sandbox").joinpath("scenarios", f"{name}.toml")
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        if packaged.is_file():
            return Path(str(packaged))
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "examples" / "scenarios" / f"{name}.toml"
        if candidate.is_file():
            return candidate
    raise UsageError(f"the built-in '{name}' scenario is missing from this installation; reinstall rgsync")


def scenario_path(given: str | Path) -> Path:
    """A scenario file as given on the command line; a built-in name (demo, minimal) when no such file."""
    path = Path(given).expanduser()
    if not path.exists() and str(given) in BUILT_IN_SCENARIOS:
        return demo_scenario_file(str(given))
    return path


def scenario_summary(scenario: Scenario) -> str:
    """One line describing a scenario (for `rgsync sandbox serve` and the demo's header)."""
    return (
        f"{scenario.name}: {len(scenario.emails)} emails, {len(scenario.calendar)} calendar items, "
        f"{sum(len(v) for v in scenario.records.values())} Salesforce records"
    )
