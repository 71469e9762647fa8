"""Fleet throughput: sessions per minute with 1, 2, 4 and 8 workers against a latency-bound sandbox.

    python benchmarks/fleet_throughput.py --mailboxes 1000 --latency-ms 30 [--workers 1,2,4,8]
        [--threads 8] [--mailbox gmail|microsoft365|exchange|mixed] [--window 180]
        [--json-out figures.json]

For each layout (N worker processes with one session each, then one process running N sessions
at once as threads, for each N of --threads) it starts a fresh team sandbox (one org, N
mailboxes, every call delayed by the latency) and a fresh fleet database on a throw-away
PostgreSQL, imports the roster, queues one session per mailbox, and measures from the first
session's start to the last one's end (the run table). With --window S, every layout but the
last measures its throughput over the first S seconds after its first session started (sessions
that ended by then, out of the whole queue of N), then stops its workers: the rate of N queued
mailboxes without waiting an hour for one worker to drain them; the last layout always runs to
the end, for the kill proof. It prints sessions/minute, the ratio to
one worker (goal: >= 0.8 x linear up to 8), the proof that no mailbox ran two sessions at once
(run table), peak RSS per worker process, and — in the last process layout, where one worker is
SIGKILLed halfway while one of its sessions is in flight — that the killed session was finished
by another worker, every mailbox was synced once, with no Salesforce record twice and none
missing. Each finished layout is also appended to FIGURES.partial.jsonl, so a long run that is
stopped keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from rgsync.demo.team import start_team_sandbox
from rgsync.fleet.devcluster import ThrowawayCluster
from rgsync.fleet.store import FleetStore, overlapping_runs
from rgsync.state import pg_reuse


def _env(url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RGSYNC_")}
    env.update(RGSYNC_STATE_URL=url, RGSYNC_FLEET_HOME=str(home), RGSYNC_KEYRING="file")
    return env


def _rgsync(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "rgsync", *args], env=env, check=True, capture_output=True)


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of a live process (with `children`, also of its reaped children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14-17 of proc(5), counted from the state field (index 0 here is field 3).
    used = int(fields[11]) + int(fields[12])
    if children:
        used += int(fields[13]) + int(fields[14])
    return used / _TICK


def _postgres_cpu(pg: ThrowawayCluster) -> float:
    """CPU seconds of the cluster so far: the postmaster, its live backends and those that ended."""
    try:
        postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    total = _cpu_seconds(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == postmaster:
                total += _cpu_seconds(int(entry.name))
    return total


def _own_cpu() -> float:
    """CPU seconds of this process: the emulators' request handling (and this watcher's polls)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _org_check(team: object, owners: set[str]) -> tuple[int, int]:
    """(duplicated records, mailboxes missing records) among the reps' activities."""
    org = team.salesforce.org  # type: ignore[attr-defined]
    per_record: Counter[tuple[str, str, str]] = Counter()
    per_owner: Counter[str] = Counter()
    for name in ("Task", "Event", "EmailMessage"):
        for record in org.records(name):
            owner = str(record.get("OwnerId") or record.get("CreatedById"))
            if owner in owners:
                per_record[(name, owner, str(record.get("Subject")))] += 1
                per_owner[owner] += 1
    duplicates = sum(n - 1 for n in per_record.values() if n > 1)
    expected = max(per_owner.values(), default=0)
    missing = sum(1 for owner in owners if per_owner[owner] != expected)
    return duplicates, missing


def run_layout(
    pg: ThrowawayCluster,
    work: Path,
    mailboxes: int,
    latency: float,
    processes: int,
    threads: int,
    *,
    kill: bool,
    mailbox: str = "gmail",
    window: float = 0.0,
) -> dict[str, Any]:
    """Run one layout from a fresh sandbox and database; its figures."""
    database = f"fleet_{processes}x{threads}{'_kill' if kill else ''}"
    url = pg.create_database(database)
    setup_started = time.monotonic()
    with start_team_sandbox(
        work / database / "team", users=mailboxes, latency=latency, mailbox=mailbox
    ) as team:
        env = _env(url, work / database / "home")
        _rgsync(env, "fleet", "init")
        _rgsync(env, "fleet", "import", str(team.roster_file))
        _rgsync(env, "fleet", "schedule")
        store = FleetStore(url)
        setup_seconds = time.monotonic() - setup_started
        started = time.monotonic()
        cpu_before = {"emulators": _own_cpu(), "postgresql": _postgres_cpu(pg)}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "rgsync", "fleet", "worker", "--concurrency", str(threads),
                 "--schedule-every", "0", "--stalled-after", "4"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            for _ in range(processes)
        ]  # fmt: skip
        try:
            figures = _watch(store, workers, mailboxes, kill, started, window)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        rss, killed, killed_user, worker_cpu = figures
        cpu = {
            "workers": sum(worker_cpu.values()),
            "emulators": _own_cpu() - cpu_before["emulators"],
            "postgresql": _postgres_cpu(pg) - cpu_before["postgresql"],
        }
        runs = store.runs()
        completed = [r for r in runs if r["status"] == "completed"]
        first = min(r["started_at"] for r in runs)
        if window:
            # The rate over the window: sessions that had ended when it closed.
            cutoff = first + timedelta(seconds=window)
            counted = [r for r in completed if r["ended_at"] <= cutoff]
            minutes = window / 60
        else:
            counted = completed
            minutes = (max(r["ended_at"] for r in completed) - first).total_seconds() / 60
        per_user = Counter(r["user_name"] for r in completed)
        synced = {m.salesforce_user_id for m in team.members if per_user[m.name]}
        duplicates, missing = _org_check(team, synced)
        return {
            "layout": f"{processes} process(es) x {threads} thread(s)",
            "workers": processes * threads,
            "sessions": len(counted),
            "window_seconds": window or None,
            "per_minute": len(counted) / minutes if minutes else 0.0,
            "overlaps": len(overlapping_runs(runs)),
            # Over a window only some mailboxes had their turn: none may have run twice.
            "users_not_once": sum(
                1 for m in team.members if per_user[m.name] > 1 or (not window and per_user[m.name] != 1)
            ),
            "abandoned": sum(1 for r in runs if r["status"] == "abandoned"),
            "duplicated_records": duplicates,
            "mailboxes_missing_records": missing,
            "peak_rss_mb": max(rss.values(), default=0.0),
            "killed": killed,
            "killed_session_finished_elsewhere": (
                killed
                and per_user[killed_user] == 1
                and any(r["user_name"] == killed_user and r["status"] == "abandoned" for r in runs)
            ),
            # CPU seconds per finished session, by who spent them: with 2 cores the fleet cannot
            # pass 120 / (their sum) sessions a minute, whatever the worker count.
            "cpu_per_session": {k: round(v / max(1, len(completed)), 3) for k, v in cpu.items()},
            "setup_seconds": round(setup_seconds, 1),
            "run_seconds": round(time.monotonic() - started, 1),
        }


def _watch(
    store: FleetStore,
    workers: list[subprocess.Popen[bytes]],
    mailboxes: int,
    kill: bool,
    started: float,
    window: float = 0.0,
) -> tuple[dict[int, float], bool, str, dict[int, float]]:
    """Wait until every mailbox had a completed session (or, with a `window`, until that many
    seconds after the first session started), sampling the workers' peak RSS; with `kill`,
    SIGKILL the first worker halfway while one of its sessions is in flight.
    Returns (peak RSS MB per worker pid, whether a worker was killed, the user it was syncing,
    CPU seconds per worker pid as last sampled)."""
    rss: dict[int, float] = {}
    cpu: dict[int, float] = {}
    killed = False
    killed_user = ""
    first_seen = 0.0
    while True:
        runs = store.runs()
        done = {r["user_name"] for r in runs if r["status"] == "completed"}
        for worker in workers:
            if worker.poll() is None:
                rss[worker.pid] = max(rss.get(worker.pid, 0.0), _peak_rss_mb(worker.pid))
                cpu[worker.pid] = max(cpu.get(worker.pid, 0.0), _cpu_seconds(worker.pid))
        if kill and not killed and len(done) >= mailboxes // 2:
            # Killed while a session of its own is on the wire, so that job must be handed on.
            victim = workers[0].pid
            in_flight = [r for r in runs if r["ended_at"] is None and str(r["worker"]).endswith(f":{victim}")]
            if in_flight:
                os.kill(victim, signal.SIGKILL)
                killed = True
                killed_user = str(in_flight[0]["user_name"])
        if len(done) >= mailboxes:
            return rss, killed, killed_user, cpu
        if window and runs:
            first_seen = first_seen or time.monotonic()
            # A little past the window, so sessions ending right at its close are recorded.
            if time.monotonic() - first_seen > window + 5:
                return rss, killed, killed_user, cpu
        if time.monotonic() - started > 3600:
            raise SystemExit("timed out")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--workers", default="1,2,4,8", help="worker process counts (one session each)")
    parser.add_argument(
        "--threads", default="8", help="sessions at once inside one worker process ('' for none)"
    )
    parser.add_argument("--mailbox", default="gmail", help="mailbox kind of the sandbox (or mixed)")
    parser.add_argument(
        "--window", type=float, default=0.0,
        help="seconds over which each layout but the last is measured (0: drain the whole queue)",
    )  # fmt: skip
    parser.add_argument("--json-out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    # Stopped from outside (a long run given up): the cluster and the workers are cleaned up.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    # The watcher polls the run table twice a second: on one kept connection, not a new one each time.
    pg_reuse.enable(max_idle=2)
    counts = [int(n) for n in args.workers.split(",")]
    thread_counts = [int(n) for n in args.threads.split(",") if n]
    latency = args.latency_ms / 1000
    work = Path(tempfile.mkdtemp(prefix="rgsync-fleet-bench-"))
    results: list[dict[str, Any]] = []
    with ThrowawayCluster() as pg:
        for n in counts:
            kill = n == counts[-1] and n > 1
            window = 0.0 if kill else args.window
            results.append(
                run_layout(
                    pg, work, args.mailboxes, latency, n, 1, kill=kill, mailbox=args.mailbox, window=window
                )
            )
            _progress(results[-1], args)
        for n in thread_counts:
            results.append(
                run_layout(
                    pg,
                    work,
                    args.mailboxes,
                    latency,
                    1,
                    n,
                    kill=False,
                    mailbox=args.mailbox,
                    window=args.window,
                )
            )
            _progress(results[-1], args)
    base = results[0]["per_minute"]
    print(f"{args.mailboxes} mailboxes, {args.latency_ms:.0f} ms per call, {os.cpu_count()} CPU(s)")
    print(f"{'layout':<28}{'sess/min':>10}{'x 1 worker':>12}{'of linear':>11}{'overlaps':>10}"
          f"{'not once':>10}{'dup rec':>9}{'lost':>6}{'RSS MB':>8}  killed  CPU s/session (workers+emulators+pg)")  # fmt: skip
    for r in results:
        ratio = float(r["per_minute"]) / float(base) if base else 0.0
        print(
            f"{r['layout']:<28}{r['per_minute']:>10.0f}{ratio:>12.2f}{ratio / int(r['workers']):>11.2f}"
            f"{r['overlaps']:>10}{r['users_not_once']:>10}{r['duplicated_records']:>9}"
            f"{r['mailboxes_missing_records']:>6}{r['peak_rss_mb']:>8.0f}  {r['killed']!s:<6}  "
            + "+".join(f"{v:.2f}" for v in r["cpu_per_session"].values())
        )
    if args.json_out:
        document = {"mailboxes": args.mailboxes, "latency_ms": args.latency_ms, "cpus": os.cpu_count()}
        args.json_out.write_text(json.dumps({**document, "layouts": results}, indent=2, default=str) + "\n")


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _progress(result: dict[str, Any], args: argparse.Namespace) -> None:
    """One line per finished layout on stderr (and its figures in the JSON file), so a long run
    shows where it is and keeps what it measured if it is stopped."""
    if args.json_out:
        with args.json_out.with_suffix(".partial.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(result, default=str) + "\n")
    print(
        f"{result['layout']}: {float(str(result['per_minute'])):.0f} sessions/min "
        f"(setup {result['setup_seconds']} s, run {result['run_seconds']} s)",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    main()
