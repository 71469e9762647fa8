"""Peak memory of a first session, and what holds it.

Run: `python benchmarks/memory_probe.py --mailbox exchange --emails 1000 3000 [--trace]`.

The sandbox starts on the minimal scenario and N emails from Bob are delivered (as in
`run_benchmarks.py`); the first session then runs as `rgsync run --json` in a process of its own,
so its peak RSS (`ru_maxrss` of that child, read through wait4) is rgsync's alone. With
`--trace` the child runs under tracemalloc and prints, when tracemalloc's traced size reaches its
highest, the allocations alive at that moment grouped by traceback (the top 15), so a holder
that grows with N shows up by file and line. Tracing slows the session and adds its own memory:
RSS figures are taken from untraced runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# Run in the child under --trace: samples the traced size after every chunk-sized step of work
# (a background thread every 50 ms) and keeps the snapshot taken at the highest sample.
# Linux keeps a process's peak RSS across execve, and a child started by fork/vfork + exec begins
# with its parent's peak: measured straight from this process (which holds the emulators and their
# N emails), the session's `ru_maxrss` would be this process's peak, not rgsync's. So the session
# is started by this small launcher, whose own footprint is a bare interpreter; it reaps the
# session with wait4 and writes the session's peak RSS (kB) to the file named first.
LAUNCHER = r"""
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""

TRACED_CHILD = r"""
import sys, threading, tracemalloc, atexit
tracemalloc.start(10)
best = {"size": 0, "snap": None}
stop = threading.Event()
def sample():
    # A snapshot each time the traced size passes its highest by 10 %: the last one is the peak's.
    while not stop.wait(0.05):
        size, _ = tracemalloc.get_traced_memory()
        if size > best["size"] * 1.1:
            best["size"], best["snap"] = size, tracemalloc.take_snapshot()
threading.Thread(target=sample, daemon=True).start()
def top(title, snap):
    print(title, file=sys.stderr)
    snap = snap.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    for stat in snap.statistics("traceback")[:12]:
        print(f"--- {stat.size / 2**20:.2f} MB in {stat.count} blocks", file=sys.stderr)
        for line in stat.traceback.format(limit=10):
            print("   " + line, file=sys.stderr)
def report():
    stop.set()
    end = tracemalloc.take_snapshot()
    _, peak = tracemalloc.get_traced_memory()
    print(f"traced peak {peak / 2**20:.1f} MB", file=sys.stderr)
    if best["snap"] is not None:
        top(f"=== alive near the peak ({best['size'] / 2**20:.1f} MB traced)", best["snap"])
    top("=== alive at the end of the session", end)
atexit.register(report)
from rgsync.cli import main
sys.argv = ["rgsync", *sys.argv[1:]]
main()
"""


def probe(kind: str, emails: int, trace: bool) -> dict[str, Any]:
    """One first session of `emails` new emails on a `kind` mailbox, in a child process."""
    os.environ["RGSYNC_KEYRING"] = "file"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_sandbox import deliver

    from rgsync.demo.sandbox import start_sandbox
    from rgsync.demo.scenarios import scenario_path
    from rgsync.sandbox.scenario import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        sandbox = start_sandbox(load_scenario(scenario_path("minimal")), Path(tmp) / "sbx", mailbox=kind)
        try:
            deliver(sandbox, emails)
            args = ["--config", str(sandbox.paths.settings_file), "run", "--force", "--json"]
            runner = ["-c", TRACED_CHILD] if trace else ["-m", "rgsync"]
            command = [sys.executable, *runner, *args]
            figures = Path(tmp) / "peak"
            child = subprocess.run(
                [sys.executable, "-c", LAUNCHER, str(figures), *command],
                capture_output=True,
                text=True,
                check=False,
            )
            out, err = child.stdout, child.stderr
            peak_kb, code = (int(x) for x in figures.read_text().split())
            if code not in (0, 1):
                raise SystemExit(f"session failed ({code}):\n{err[-3000:]}")
            answer = json.loads(out) if out.strip().startswith("{") else {}
            saved = answer.get("streams", {}).get("emails", {}).get("created", {}).get("salesforce")
            if trace:
                print(err, file=sys.stderr)
        finally:
            sandbox.stop()
    # This process's own peak (the emulators and their emails): what a session started straight
    # from it would have reported as its peak.
    here_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "mailbox": kind,
        "emails": emails,
        "saved": saved,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "emulators_process_mb": round(here_kb / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--mailbox", nargs="+", default=["gmail", "microsoft365", "exchange"])
    parser.add_argument("--trace", action="store_true", help="tracemalloc the child; top holders")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(probe(args.mailbox[0], args.emails[0], args.trace)), flush=True)
        return
    for kind in args.mailbox:
        for emails in args.emails:
            # Each probe in a fresh process: RUSAGE_CHILDREN is a high-water mark over all children.
            command = [sys.executable, __file__, "--one", "--mailbox", kind, "--emails", str(emails)]
            child = subprocess.run(
                [*command, *(["--trace"] if args.trace else [])], capture_output=True, text=True, check=False
            )
            if args.trace:
                print(child.stderr[-20000:], flush=True)
            if child.returncode != 0:
                print(f"{kind} {emails}: failed\n{child.stderr[-2000:]}", flush=True)
                continue
            print(child.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
