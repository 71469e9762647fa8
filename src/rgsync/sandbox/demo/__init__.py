"""`rgsync demo`: a whole sync, twice, against the sandbox, told in the user's terms.

The demo starts the emulators on the demo scenario in a temporary directory, runs a first session
through the same code path as `rgsync run` (`rgsync.sync.run_session`, real adapters, real HTTP),
and shows what happened: the emails and meetings saved to Salesforce with the people and the
opportunity or account they were linked to (looked up in the emulated org), what came down into
the mailbox, what was left alone and why, and the issues table. Then it changes data on both
sides through the services' own APIs (simple-salesforce against the Salesforce emulator; the
Gmail and Calendar REST APIs against the Google emulator), runs a second session, and shows that
only the changes travelled, with the API calls each side cost.

The package: `story` (the order of events and `run_demo`), `scenarios` (the built-in scenario
files), `edits` (the changes made between the sessions), `snapshots` and `readers` (both sides
as a person reads them) and `render` (the lines and tables printed).
"""

from rgsync.sandbox.demo.edits import bob_reply, make_edits
from rgsync.sandbox.demo.scenarios import (
    BUILT_IN_SCENARIOS,
    demo_scenario_file,
    scenario_path,
    scenario_summary,
)
from rgsync.sandbox.demo.snapshots import Snapshot, snapshot
from rgsync.sandbox.demo.story import DemoRun, run_demo

__all__ = [
    "BUILT_IN_SCENARIOS",
    "DemoRun",
    "Snapshot",
    "bob_reply",
    "demo_scenario_file",
    "make_edits",
    "run_demo",
    "scenario_path",
    "scenario_summary",
    "snapshot",
]
