"""First-session time against the I/O floor, calls per saved email, echo and idle sessions, memory.

Run: `python benchmarks/run_benchmarks.py [--emails 1000 10000] [--mailbox gmail exchange microsoft365]
[--runs 3] [--save-as email-message|task]`.

One measurement (one row) runs in a process of its own and does, on a fresh sandbox (minimal
scenario, N emails from Bob delivered to the mailbox emulator):

1. floor: `floor.py` (the same client libraries doing only list + get, one lookup per 300
   addresses, ceil(N/200) creates of the saved type), as a process; its creates are rolled back
   afterwards (a Salesforce-emulator savepoint), so the session meets the same emulator state.
2. first session: `rgsync run --force --json`, as a process.
3. floor again, as in 1. Bracketing the session by two floors cancels a load that rises or falls
   during the measurement (the machine is shared); the ratio uses their mean.
4. echo session (the one right after the first: it must recognise rgsync's own writes) and an
   idle session, in the runner's process (only their calls matter).
5. the required-writes floor (`floor.py --required`: the floor plus the sender relations and the
   mailbox labels SPEC asks of every save), twice, after step 4: its label never meets a session
   that is timed or counted.

Floor and session are measured the same way: wall time of the process from spawn to exit
(interpreter start-up, imports and sign-ins included for both), against the same emulators,
which run in the runner's process; their peak RSS is each child's own (wait4), never the
emulators'.

Columns:
  first_s               first session, process wall time (s)
  session_s             the same session's own time as it reports it (started_at to ended_at)
  floor_s               mean of the two bracketing floors' process wall times (s)
  ratio                 first_s / floor_s: above 1 is rgsync's own overhead over the floor
  sf_per_email          Salesforce calls of the first session per saved email
  mailbox_per_email     mailbox calls of the first session per saved email
  echo_sf, echo_mailbox calls of the echo session
  idle_sf, idle_mailbox calls of the idle session
  peak_rss_mb           the first session's peak RSS
  state_bytes_per_item  the state database (with its WAL) after the first session, per saved email
  first_cpu_s, floor_cpu_s  CPU seconds (user + system) of the session's and the floors' processes:
                        what each client spent itself, which a loaded machine disturbs far less
                        than wall time (the emulators' CPU is in neither)
  first_emu_cpu_s, floor_emu_cpu_s  CPU seconds the emulators spent answering the session and a
                        floor (this process's own CPU while the child ran: it only serves)
  client_ratio          (first_s - first_emu_cpu_s) / (floor_s - floor_emu_cpu_s): the ratio with
                        the emulators' work taken out of both sides. A real service does that work
                        on its own servers; what is left is the client's time and its waits on I/O
  req_floor_s           mean of the two required-writes floors' process wall times (s)
  req_ratio             first_s / req_floor_s: the session against the I/O it cannot skip

Prints one row per measurement and then, per mailbox kind and size, min/median of each column.
Not part of the test suite: timings depend on the machine (see README.md here for the last table).
"""

from __future__ import annotations

import argparse
import json
import os
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
    "session_s",
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
    "first_cpu_s",
    "floor_cpu_s",
    "first_emu_cpu_s",
    "floor_emu_cpu_s",
    "client_ratio",
    "req_floor_s",
    "req_ratio",
)


def _set_save_as(settings_file: Path, save_as: str) -> None:
    import tomlkit

    document = tomlkit.parse(settings_file.read_text())
    general = document.setdefault("general", tomlkit.table())
    general.setdefault("emails", tomlkit.table())["save-as"] = save_as
    settings_file.write_text(tomlkit.dumps(document))


# A small process between this one and the child, so the child's peak RSS is its own: on Linux a
# child started from this process (which holds the emulators and their N emails) begins with this
# process's peak and keeps it through exec, so wait4 here would report the emulators' memory.
LAUNCHER = r"""
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime} {os.waitstatus_to_exitcode(status)}")
"""


def run_child(argv: list[str], scratch: Path) -> tuple[str, float, float, float, float]:
    """Run `argv` to its end: (stdout, wall seconds from spawn to exit, its own peak RSS in MB,
    the CPU seconds it used, user + system, and the CPU seconds this process used meanwhile).

    This process only serves the emulators while it waits for the child, so the last figure is
    what answering the child cost the emulators.

    The child is started and reaped (`os.wait4`, its own rusage) by `LAUNCHER`; the launcher's
    start-up (tens of milliseconds) is in the wall time of floor and session alike. Output goes
    to a file, not a pipe, so no reader thread skews the time.
    """
    out, err, figures = scratch / "child.out", scratch / "child.err", scratch / "child.figures"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started, served = time.perf_counter(), time.process_time()
        launcher = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(figures), *argv], stdout=stdout, stderr=stderr
        )
        launcher.wait()
        wall, served = time.perf_counter() - started, time.process_time() - served
    peak_kb, cpu, code = figures.read_text().split()
    if int(code) != 0:
        raise RuntimeError(f"{argv[1:4]} failed ({code}):\n{err.read_text()[-2000:]}")
    return out.read_text(), wall, int(peak_kb) / 1024, float(cpu), served


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
        scratch = Path(tmp)
        sandbox = start_sandbox(load_scenario(scenario_path("minimal")), scratch / "sbx", mailbox=kind)
        try:
            deliver(sandbox, emails)
            _set_save_as(sandbox.paths.settings_file, save_as)
            org = sandbox.salesforce.org
            floor_argv = [
                sys.executable,
                str(Path(__file__).with_name("floor.py")),
                kind,
                str(sandbox.paths.settings_file),
                save_as,
            ]

            floor_io: list[float] = []
            floor_cpu: list[float] = []
            floor_emu: list[float] = []

            def floor(required: bool = False) -> float:
                mark = org.savepoint()
                try:
                    argv = [*floor_argv, "--required"] if required else floor_argv
                    out, wall, _rss, cpu, served = run_child(argv, scratch)
                finally:
                    org.rollback(mark)  # the session must meet the org as the floor did
                if not required:
                    floor_io.append(float(json.loads(out)["seconds"]))
                    floor_cpu.append(cpu)
                    floor_emu.append(served)
                return wall

            rows: dict[str, Any] = {"mailbox": kind, "emails": emails}
            floors = [floor()]
            sf_before = Counter(sandbox.salesforce.server.calls)
            stdout, wall, rss, cpu, served = run_child(
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
                scratch,
            )
            sf = sum((Counter(sandbox.salesforce.server.calls) - sf_before).values())
            floors.append(floor())
            answer = json.loads(stdout)
            saved = int(answer["streams"]["emails"]["created"]["salesforce"])
            floor_s = statistics.mean(floors)
            rows["first_s"] = round(wall, 2)
            rows["session_s"] = round(
                (
                    datetime.fromisoformat(answer["ended_at"]) - datetime.fromisoformat(answer["started_at"])
                ).total_seconds(),
                2,
            )
            rows["floor_s"] = round(floor_s, 2)
            rows["floors"] = [round(f, 2) for f in floors]
            rows["floor_io_s"] = [round(f, 2) for f in floor_io]
            rows["first_cpu_s"] = round(cpu, 2)
            rows["floor_cpu_s"] = round(statistics.mean(floor_cpu), 2)
            rows["ratio"] = round(wall / floor_s, 2)
            rows["first_emu_cpu_s"] = round(served, 2)
            rows["floor_emu_cpu_s"] = round(statistics.mean(floor_emu), 2)
            rows["client_ratio"] = round((wall - served) / (floor_s - statistics.mean(floor_emu)), 2)
            rows["saved"] = saved
            rows["sf_per_email"] = round(sf / saved, 4) if saved else None
            mailbox_calls = int(answer["api_calls"].get("mailbox", 0))
            rows["mailbox_per_email"] = round(mailbox_calls / saved, 4) if saved else None
            rows["peak_rss_mb"] = round(rss, 1)
            db = sandbox.paths.state_db
            state_bytes = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
            rows["state_bytes_per_item"] = round(state_bytes / saved) if saved else None
            for label in ("echo", "idle"):
                sf_before = Counter(sandbox.salesforce.server.calls)
                result = run_session(sandbox.paths, RunOptions(force=True))
                rows[f"{label}_sf"] = sum((Counter(sandbox.salesforce.server.calls) - sf_before).values())
                rows[f"{label}_mailbox"] = int(result.api_calls.get("mailbox", 0))
            required = [floor(required=True), floor(required=True)]
            rows["req_floor_s"] = round(statistics.mean(required), 2)
            rows["req_ratio"] = round(wall / statistics.mean(required), 2)
        finally:
            sandbox.stop()
    return rows


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _as_installed() -> None:
    """Measure rgsync as an installed copy runs: from compiled bytecode.

    An environment with PYTHONDONTWRITEBYTECODE set (some containers and CI images) makes every
    process of an editable install compile rgsync from source, about 0.4 s of CPU the floor, which
    imports little of it, never pays. The package is compiled once here and the children may use
    and write bytecode (site-packages was compiled when it was installed).
    """
    import compileall

    import rgsync

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    compileall.compile_dir(Path(rgsync.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--mailbox", nargs="+", default=["gmail", "microsoft365", "exchange"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--save-as", default="email-message", choices=["email-message", "task"])
    parser.add_argument("--jsonl", type=Path, help="also append each row as a JSON line to this file")
    parser.add_argument(
        "--summarise", type=Path, help="only print the min/median table (markdown) of a --jsonl file"
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child measurement
    args = parser.parse_args()
    if args.summarise:
        rows = [json.loads(line) for line in args.summarise.read_text().splitlines() if line.strip()]
        print(summary(rows, markdown=True))
        return
    if args.one:
        print(json.dumps(measure(args.mailbox[0], args.emails[0], args.save_as)))
        return
    _as_installed()
    results: list[dict[str, Any]] = []
    print(" | ".join(("mailbox", "emails", *COLUMNS, "load")), flush=True)
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
                row["load"] = _load()  # 1/5/15-minute load averages when the row ended
                results.append(row)
                if args.jsonl:
                    with args.jsonl.open("a") as sink:
                        sink.write(json.dumps(row) + "\n")
                print(
                    " | ".join(str(row.get(c)) for c in ("mailbox", "emails", *COLUMNS, "load")), flush=True
                )
    print("\nmin / median")
    print(summary(results, markdown=False))


def summary(results: list[dict[str, Any]], *, markdown: bool) -> str:
    """Min/median of each column per mailbox kind and size, with the runs' load averages."""
    sep = " | "
    lines = [sep.join(("mailbox", "emails", "runs", *COLUMNS, "load (1 min)"))]
    if markdown:
        lines.append("|" + "---|" * (len(COLUMNS) + 4))
    kinds = list(dict.fromkeys(r["mailbox"] for r in results))
    sizes = sorted({int(r["emails"]) for r in results})
    for kind in kinds:
        for emails in sizes:
            rows = [r for r in results if r["mailbox"] == kind and r["emails"] == emails]
            if not rows:
                continue
            cells = []
            for column in COLUMNS:
                values = [r[column] for r in rows if r.get(column) is not None]
                cells.append(f"{min(values)}/{round(statistics.median(values), 4)}" if values else "-")
            loads = [str(r.get("load", "?")).split()[0] for r in rows]
            lines.append(sep.join((kind, str(emails), str(len(rows)), *cells, "–".join(loads))))
    if markdown:
        lines = [f"| {line} |" if not line.startswith("|") else line for line in lines]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
