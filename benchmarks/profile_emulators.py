"""How much of a first session the loopback emulators take, so benchmarks measure rgsync.

Run: `python benchmarks/profile_emulators.py [--emails 10000] [--mailbox gmail] [--top 15]
[--client-top 25] [--dump FILE] [--fleet-mailboxes 40]`.

Delivers N emails (as bench_sandbox.py does), runs one first session through the real adapters,
and prints its wall time, the CPU time the emulators spent answering requests (Salesforce and
mailbox together), that share of the wall time, and per emulator its CPU seconds, requests and
CPU milliseconds per request. With --top, each request is also profiled (in CPU time) and the
emulator functions with the most own time are listed (--dump saves that profile). With --client-top,
the session itself (rgsync's side, in the main thread) runs under cProfile and rgsync's
functions with the most cumulative time are listed, to see where a gap to the floor goes.

With --fleet-mailboxes N it measures a team instead: one fleet layout of fleet_throughput.py (a
team sandbox of N mailboxes, one worker process, one session at a time, no added latency, a
throw-away PostgreSQL) and prints the emulators' CPU per session and per request.
"""

from __future__ import annotations

import argparse
import cProfile
import http.server
import os
import pstats
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench_sandbox import deliver

from rgsync.demo.sandbox import start_sandbox
from rgsync.demo.scenarios import scenario_path
from rgsync.sandbox.scenario import load_scenario
from rgsync.session import RunOptions
from rgsync.sync import run_session


class EmulatorClock:
    """Sums the CPU time the emulators spend answering requests, per emulator (by server port).

    Each request (`handle_one_request`, one HTTP exchange on a kept-alive connection) is timed and
    profiled on its own: a connection the session still holds open when it ends would otherwise
    never report, which left the Gmail emulator out of the figures.
    """

    def __init__(self, profile: bool) -> None:
        self.cpu = 0.0
        self.requests = 0
        self.by_port: dict[int, list[float]] = {}  # port -> [CPU seconds, requests]
        self.lock = threading.Lock()
        self.profiles: list[cProfile.Profile] = []
        self.profile = profile
        self._local = threading.local()

    def install(self) -> None:
        original = http.server.BaseHTTPRequestHandler.handle_one_request
        clock = self

        def timed(handler: Any) -> None:
            profiler = getattr(clock._local, "profiler", None)
            if clock.profile and profiler is None:
                profiler = clock._local.profiler = cProfile.Profile(time.thread_time)
                with clock.lock:
                    clock.profiles.append(profiler)
            started = time.thread_time()
            if profiler is not None:
                profiler.enable()
            try:
                original(handler)
            finally:
                if profiler is not None:
                    profiler.disable()
                spent = time.thread_time() - started
                port = int(handler.server.server_address[1])
                with clock.lock:
                    clock.cpu += spent
                    # A request line was read unless the client closed the connection instead.
                    answered = 1 if getattr(handler, "requestline", "") else 0
                    clock.requests += answered
                    entry = clock.by_port.setdefault(port, [0.0, 0])
                    entry[0] += spent
                    entry[1] += answered
                    handler.requestline = ""

        http.server.BaseHTTPRequestHandler.handle_one_request = timed  # type: ignore[method-assign]

    def breakdown(self, names: dict[int, str]) -> str:
        """One line per emulator: CPU seconds, HTTP requests, milliseconds per request."""
        lines = []
        for port, (cpu, requests) in sorted(self.by_port.items(), key=lambda kv: -kv[1][0]):
            per = 1000 * cpu / requests if requests else 0.0
            lines.append(
                f"  {names.get(port, str(port))}: {cpu:.2f} s CPU, {requests} requests, {per:.2f} ms/request"
            )
        return "\n".join(lines)


def _port_names(sandbox: Any, mailbox: str) -> dict[int, str]:
    names: dict[int, str] = {}
    for name, running in (("salesforce", sandbox.salesforce), (mailbox, sandbox.mailbox)):
        url = getattr(running, "url", None)
        port = urlsplit(url).port if isinstance(url, str) else None
        if port is not None:
            names[port] = name
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--mailbox", default="gmail", choices=["gmail", "exchange", "microsoft365"])
    parser.add_argument("--top", type=int, default=0, help="list the N emulator functions with most own time")
    parser.add_argument(
        "--client-top", type=int, default=0, help="list the N rgsync functions with most cumulative time"
    )
    parser.add_argument(
        "--client-filter", default=r"rgsync/(?!sandbox)", help="regex of the files --client-top lists"
    )
    parser.add_argument("--client-sort", default="cumulative", help="pstats sort key for --client-top")
    parser.add_argument(
        "--dump", type=Path, default=None, help="with --top: also save the emulators' profile here (pstats)"
    )
    parser.add_argument(
        "--fleet-mailboxes",
        type=int,
        default=0,
        help="instead: a team sandbox of N mailboxes synced by one fleet worker (needs PostgreSQL)",
    )
    args = parser.parse_args()
    os.environ["RGSYNC_KEYRING"] = "file"
    clock = EmulatorClock(profile=args.top > 0)
    clock.install()
    if args.fleet_mailboxes:
        _fleet(clock, args.fleet_mailboxes, args.mailbox)
    else:
        _first_session(clock, args)
    if clock.profiles:
        stats = pstats.Stats(clock.profiles[0])
        for profiler in clock.profiles[1:]:
            stats.add(profiler)
        stats.sort_stats("tottime").print_stats("rgsync/sandbox", args.top)
        if args.dump is not None:
            stats.dump_stats(args.dump)


def _fleet(clock: EmulatorClock, mailboxes: int, mailbox: str) -> None:
    """One fleet layout as fleet_throughput.py runs it (one worker, one session at a time, no
    added latency): the emulators' CPU per session of a team."""
    from fleet_throughput import run_layout

    from rgsync.fleet.devcluster import ThrowawayCluster

    with tempfile.TemporaryDirectory() as tmp, ThrowawayCluster() as pg:
        figures = run_layout(pg, Path(tmp), mailboxes, 0.0, 1, 1, kill=False, mailbox=mailbox)
    sessions = int(figures["sessions"])
    print(
        f"fleet of {mailboxes} {mailbox} mailboxes: {sessions} sessions in {figures['run_seconds']} s "
        f"(duplicated records {figures['duplicated_records']}, mailboxes missing records "
        f"{figures['mailboxes_missing_records']}); emulators {clock.cpu:.2f} s CPU = "
        f"{1000 * clock.cpu / max(1, sessions):.1f} ms per session, {clock.requests} requests, "
        f"{1000 * clock.cpu / max(1, clock.requests):.2f} ms CPU/request"
    )
    print(clock.breakdown({}))


def _first_session(clock: EmulatorClock, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        scenario = load_scenario(scenario_path("minimal"))
        sandbox = start_sandbox(scenario, Path(tmp) / "sbx", mailbox=args.mailbox)
        try:
            deliver(sandbox, args.emails)
            client = cProfile.Profile() if args.client_top else None
            started = time.perf_counter()
            if client is not None:
                result = client.runcall(run_session, sandbox.paths, RunOptions(force=True))
            else:
                result = run_session(sandbox.paths, RunOptions(force=True))
            wall = time.perf_counter() - started
            names = _port_names(sandbox, args.mailbox)
        finally:
            sandbox.stop()
    print(
        f"{args.mailbox}, {args.emails} emails: first session {result.status} in {wall:.1f} s; "
        f"emulators {clock.cpu:.1f} s CPU = {100 * clock.cpu / wall:.0f} % of the wall time, "
        f"{clock.requests} requests, {1000 * clock.cpu / max(1, clock.requests):.2f} ms CPU/request"
    )
    print(clock.breakdown(names))
    if client is not None:
        pstats.Stats(client).sort_stats(args.client_sort).print_stats(args.client_filter, args.client_top)


if __name__ == "__main__":
    main()
