"""First-session time against the I/O floor, calls per saved email, echo and idle sessions, memory.

Run: `python benchmarks/run_benchmarks.py [--emails 1000 10000] [--mailbox gmail exchange microsoft365]
[--runs 3] [--save-as email-message|task]`.

Each measurement runs in its own process (so its peak RSS is its own): the sandbox starts on the
minimal scenario, N emails from Bob are delivered, the floor (`floor.py`: the same client
libraries doing only list + get, one lookup per 300 addresses, ceil(N/200) creates) is measured
on those emulators, then three sessions run through the real adapters: the first (saves N), the
echo (the session right after it, which must recognise rgsync's own marks) and an idle one. The
first session runs as `rgsync run --json` in a process of its own: its time is the session's own
(started_at to ended_at, no interpreter start-up) and its peak RSS is rgsync's, not the emulators'.

Prints one row per measurement and then, per mailbox kind and size, the min and median of each
column. Not part of the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

COLUMNS = (
    "first_s",
    "floor_s",
    "ratio",
    "sf_per_email",
    "mailbox_per_email",
    "echo_sf",
    "echo_mailbox",
    "idle_sf",
    "idle_mailbox",
    "peak_rss_mb",
    "state_bytes_per_item",
)


def _set_save_as(settings_file: Path, save_as: str) -> None:
    import tomlkit

    document = tomlkit.parse(settings_file.read_text())
    general = document.setdefault("general", tomlkit.table())
    general.setdefault("emails", tomlkit.table())["save-as"] = save_as  # type: ignore[union-attr]
    settings_file.write_text(tomlkit.dumps(document))


def measure(kind: str, emails: int, save_as: str) -> dict[str, Any]:
    """One measurement, in this process (see the module docstring)."""
    os.environ["RGSYNC_KEYRING"] = "file"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_sandbox import deliver

    from rgsync.demo.sandbox import start_sandbox
    from rgsync.demo.scenarios import scenario_path
    from rgsync.sandbox.scenario import load_scenario
    from rgsync.session import RunOptions
    from rgsync.sync import run_session

    with tempfile.TemporaryDirectory() as tmp:
        sandbox = start_sandbox(load_scenario(scenario_path("minimal")), Path(tmp) / "sbx", mailbox=kind)
        try:
            deliver(sandbox, emails)
            _set_save_as(sandbox.paths.settings_file, save_as)
            # The floor in its own process too, so neither shares the emulators' interpreter.
            floor_s = float(
                subprocess.run(
                    [
                        sys.executable,
                        str(Path(__file__).with_name("floor.py")),
                        kind,
                        str(sandbox.paths.settings_file),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
            )
            rows: dict[str, Any] = {"mailbox": kind, "emails": emails}
            for label in ("first", "echo", "idle"):
                sf_before = Counter(sandbox.salesforce.server.calls)
                if label == "first":
                    # Its own process, so its peak RSS is rgsync's alone (the emulators stay here).
                    child = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "rgsync",
                            "--config",
                            str(sandbox.paths.settings_file),
                            "run",
                            "--force",
                            "--json",
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    answer = json.loads(child.stdout)
                    seconds = (
                        datetime.fromisoformat(answer["ended_at"])
                        - datetime.fromisoformat(answer["started_at"])
                    ).total_seconds()
                    mailbox_calls = int(answer["api_calls"].get("mailbox", 0))
                    rows["peak_rss_mb"] = round(
                        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
                    )
                else:
                    started = time.perf_counter()
                    result = run_session(sandbox.paths, RunOptions(force=True))
                    seconds = time.perf_counter() - started
                    mailbox_calls = int(result.api_calls.get("mailbox", 0))
                sf = sum((Counter(sandbox.salesforce.server.calls) - sf_before).values())
                if label == "first":
                    saved = int(answer["streams"]["emails"]["created"]["salesforce"])
                    rows["first_s"] = round(seconds, 2)
                    rows["floor_s"] = round(floor_s, 2)
                    rows["ratio"] = round(seconds / floor_s, 2) if floor_s else None
                    rows["saved"] = saved
                    rows["sf_per_email"] = round(sf / saved, 4) if saved else None
                    rows["mailbox_per_email"] = round(mailbox_calls / saved, 4) if saved else None
                    db = sandbox.paths.state_db
                    state_bytes = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
                    rows["state_bytes_per_item"] = round(state_bytes / saved) if saved else None
                else:
                    rows[f"{label}_sf"] = sf
                    rows[f"{label}_mailbox"] = mailbox_calls
        finally:
            sandbox.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--mailbox", nargs="+", default=["gmail", "microsoft365", "exchange"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--save-as", default="email-message", choices=["email-message", "task"])
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child measurement
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.mailbox[0], args.emails[0], args.save_as)))
        return
    results: list[dict[str, Any]] = []
    print(" | ".join(("mailbox", "emails", *COLUMNS)), flush=True)
    for kind in args.mailbox:
        for emails in args.emails:
            for _ in range(args.runs):
                child = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--one",
                        "--mailbox",
                        kind,
                        "--emails",
                        str(emails),
                        "--save-as",
                        args.save_as,
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if child.returncode != 0:
                    print(f"{kind} {emails}: failed\n{child.stderr[-2000:]}", flush=True)
                    continue
                row = json.loads(child.stdout.strip().splitlines()[-1])
                results.append(row)
                print(" | ".join(str(row.get(c)) for c in ("mailbox", "emails", *COLUMNS)), flush=True)
    print("\nmin / median")
    for kind in args.mailbox:
        for emails in args.emails:
            rows = [r for r in results if r["mailbox"] == kind and r["emails"] == emails]
            if not rows:
                continue
            cells = []
            for column in COLUMNS:
                values = [r[column] for r in rows if r.get(column) is not None]
                cells.append(f"{min(values)}/{statistics.median(values)}" if values else "-")
            print(" | ".join((kind, str(emails), *cells)), flush=True)


if __name__ == "__main__":
    main()
