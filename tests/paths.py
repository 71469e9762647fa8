"""Where the repository's files are, for tests that read examples, scenarios or the README."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "examples" / "scenarios"
MINIMAL_SCENARIO = SCENARIOS / "minimal.toml"
DEMO_SCENARIO = SCENARIOS / "demo.toml"
