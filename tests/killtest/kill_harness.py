"""Kill points through the real adapters: `rgsync run` in its own process against the sandbox,
stopped right after an emulator carried out its k-th write of a kind, then run again to the end and
compared, record by record, with a run nothing interrupted.

A kill point names a world (mailbox kind, save mode, size), the service (`salesforce` or
`mailbox`), a kind of write ("create EmailMessage", "tasks.tasks.insert", "CreateItem Contact",
"batch PATCH me/messages", …), which one of that kind (1-based) and what happens there:

* `kill`: SIGKILL the run once the emulator has applied the write, before the answer leaves (the
  answer is then dropped too, so the dead process cannot read it);
* `lost-reply`: apply the write and close the connection without the answer; the run goes on.

The kinds and their counts come from the reference run, so every kill point is a write that really
happens, and the same kill point is the same instant on every machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rgsync.demo.sandbox import Sandbox, start_sandbox
from rgsync.sandbox.http import Fault, Request
from rgsync.sandbox.scenario import Scenario
from tests.killtest.kill_snapshot import Snapshot, compare, take_snapshot
from tests.killtest.kill_world import WorldSize, build_world

HERE = Path(__file__).resolve().parent
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EWS_WRITES = frozenset(
    {
        "CreateItem",
        "UpdateItem",
        "DeleteItem",
        "MoveItem",
        "CopyItem",
        "SendItem",
        "CreateFolder",
        "UpdateFolder",
        "DeleteFolder",
        "CreateAttachment",
    }
)
_EWS_ITEM = re.compile(rb"<(?:\w+:)?(CalendarItem|Task|Contact|Message|ItemChange|ItemId)\b")
# Path segments that are Ids rather than names (Graph and Tasks Ids are long opaque strings).
_OPAQUE = re.compile(r"^[A-Za-z0-9_=\-]{20,}$")


# --- what a write is ------------------------------------------------------------------------------


def _shape(path: str) -> str:
    """A URL path without its Ids: 'me/messages/AAMk…' → 'me/messages'."""
    parts = [p for p in path.split("?")[0].strip("/").split("/") if p and not _OPAQUE.match(p)]
    return "/".join(p for p in parts if p not in ("v1.0", "beta"))


def salesforce_write(request: Request) -> str | None:
    """The kind of write a Salesforce REST call is, or None for a read."""
    if request.method not in WRITE_METHODS or not request.path.startswith("/services/data/"):
        return None
    tail = request.path.rstrip("/").rsplit("/", 1)[-1]
    body = request.json() if request.body else None
    if request.path.endswith("/composite/sobjects"):
        if request.method == "DELETE":
            return "delete"
        records = (body or {}).get("records") or [{}]
        kind = (records[0].get("attributes") or {}).get("type", "?")
        return f"{'create' if request.method == 'POST' else 'update'} {kind}"
    if tail == "composite":
        subrequests = (body or {}).get("compositeRequest") or []
        writes = sorted(
            {
                f"{s.get('method', 'GET')} {_sobject(s.get('url', ''))}"
                for s in subrequests
                if s.get("method", "GET") != "GET"
            }
        )
        return f"composite {'+'.join(writes)}" if writes else None
    return f"{request.method} {_sobject(request.path)}"


def _sobject(url: str) -> str:
    found = re.search(r"/sobjects/(\w+)", url)
    return found.group(1) if found else _shape(url).rsplit("/", 1)[-1]


def mailbox_write(kind: str, route_name: Callable[[Request], str]) -> Callable[[Request], str | None]:
    """The classifier of one mailbox kind's calls: the kind of write, or None for a read."""

    def gmail(request: Request) -> str | None:
        if request.method not in WRITE_METHODS or request.path.startswith("/batch"):
            return None
        return route_name(request)

    def graph(request: Request) -> str | None:
        if request.method not in WRITE_METHODS:
            return None
        name = route_name(request)
        if name.startswith("oauth"):
            return None
        if request.path.endswith("/$batch"):
            inner = (request.json() or {}).get("requests") or []
            writes = sorted(
                {
                    f"{r.get('method')} {_shape(str(r.get('url', '')))}"
                    for r in inner
                    if r.get("method") != "GET"
                }
            )
            return f"batch {'+'.join(writes)}" if writes else None
        return name

    def ews(request: Request) -> str | None:
        operation = route_name(request)
        if operation not in EWS_WRITES:
            return None
        found = _EWS_ITEM.search(request.body.split(b"Body>", 1)[-1])
        return f"{operation} {found.group(1).decode() if found else ''}".strip()

    return {"gmail": gmail, "microsoft365": graph, "exchange": ews}[kind]


# --- the world and its runs -----------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What is synced: mailbox kind, save mode (EmailMessage or Task), size."""

    mailbox: str
    enhanced_email: bool
    size: WorldSize

    @property
    def name(self) -> str:
        return f"{self.mailbox}-{'EmailMessage' if self.enhanced_email else 'Task'}"


@dataclass(frozen=True)
class KillPoint:
    """One instant to interrupt a run at (see the module docstring)."""

    world: World
    service: str
    kind: str
    nth: int
    action: str = "kill"

    @property
    def name(self) -> str:
        return f"{self.world.name}:{self.action}@{self.service}:{self.kind}#{self.nth}"


@dataclass
class Outcome:
    """What one kill point did: whether it fired, the exit codes, and the difference to the reference."""

    point: KillPoint
    fired: bool
    codes: list[int]
    duplicates: Counter[str] = field(default_factory=Counter)
    losses: Counter[str] = field(default_factory=Counter)
    output: str = ""

    @property
    def clean(self) -> bool:
        return not self.duplicates and not self.losses

    def describe(self, limit: int = 8) -> str:
        lines = [f"{self.point.name}: exit codes {self.codes}"]
        lines += [f"  duplicate: {line[:300]}" for line in list(self.duplicates)[:limit]]
        lines += [f"  lost:      {line[:300]}" for line in list(self.losses)[:limit]]
        return "\n".join(lines)


class Launcher:
    """The warm parent that forks one `rgsync` process per run (see kill_launcher.py)."""

    def __init__(self) -> None:
        env = {**os.environ, "RGSYNC_KEYRING": "file", "COLUMNS": "160", "NO_COLOR": "1"}
        env.pop("RGSYNC_STATE_DIR", None)
        self._process = subprocess.Popen(
            [sys.executable, str(HERE / "kill_launcher.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._read()

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the rgsync launcher ended unexpectedly")
        return dict(json.loads(line))

    def run(self, argv: list[str], directory: Path, on_start: Callable[[int], None]) -> tuple[int, str]:
        """Run `rgsync ARGV` in a new process; `on_start(pid)` as soon as it runs. (exit code, output)"""
        assert self._process.stdin is not None
        out, err = directory / "run.out", directory / "run.err"
        self._process.stdin.write(json.dumps({"argv": argv, "out": str(out), "err": str(err)}) + "\n")
        self._process.stdin.flush()
        pid = int(self._read()["pid"])
        on_start(pid)
        code = int(self._read()["code"])
        text = out.read_text(errors="replace") + err.read_text(errors="replace")
        return code, text

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)


class _Victim:
    """The run a kill point may SIGKILL: its pid, and a kill that returns once it is dead."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.killed = threading.Event()

    def kill(self) -> None:
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        self.killed.set()
        # Wait until the process no longer runs (gone, or a zombie waiting for the launcher), so
        # nothing it could still send reaches the emulators.
        deadline = time.monotonic() + 10
        stat = Path(f"/proc/{pid}/stat")
        while time.monotonic() < deadline:
            try:
                state = stat.read_text().rpartition(")")[2].split()[0]
            except (FileNotFoundError, IndexError, ProcessLookupError):
                return
            if state in ("Z", "X"):
                return
            time.sleep(0.001)


class Harness:
    """Starts sandboxes for worlds, runs rgsync in them, and keeps one reference per world."""

    def __init__(self, root: Path, now: datetime) -> None:
        self.root = root
        self.now = now
        self.launcher = Launcher()
        self._scenarios: dict[World, Scenario] = {}
        self._references: dict[World, Reference] = {}
        self._serial = 0

    def close(self) -> None:
        self.launcher.close()

    def scenario(self, world: World) -> Scenario:
        if world not in self._scenarios:
            self._scenarios[world] = build_world(
                world.size, enhanced_email=world.enhanced_email, now=self.now
            )
        return self._scenarios[world]

    def start(self, world: World) -> Sandbox:
        """A new sandbox loaded with `world`'s scenario, in a directory of its own."""
        self._serial += 1
        directory = Path(tempfile.mkdtemp(prefix=f"{world.name}-", dir=self.root))
        return start_sandbox(self.scenario(world), directory / "sbx", mailbox=world.mailbox)

    def run(self, sandbox: Sandbox, victim: _Victim | None = None) -> tuple[int, str]:
        """`rgsync run` on the sandbox's profile in a process of its own: (exit code, output)."""

        def started(pid: int) -> None:
            if victim is not None:
                victim.pid = pid

        return self.launcher.run(["--config", str(sandbox.settings_file), "run"], sandbox.directory, started)

    def _classifiers(self, sandbox: Sandbox) -> dict[str, tuple[Any, Callable[[Request], str | None]]]:
        mailbox_server = sandbox.mailbox.server
        return {
            "salesforce": (sandbox.salesforce.server, salesforce_write),
            "mailbox": (
                mailbox_server,
                mailbox_write(sandbox.mailbox_kind, mailbox_server.emulator.route_name),
            ),
        }

    def adopt(self, reference: Reference) -> None:
        """Use a reference made elsewhere (by another process of the same benchmark)."""
        self._references[reference.world] = reference

    def reference(self, world: World) -> Reference:
        """The uninterrupted run of `world` (then a second, idle one), its writes and its snapshot."""
        if world in self._references:
            return self._references[world]
        sandbox = self.start(world)
        try:
            writes: list[tuple[str, str]] = []
            for service, (server, classify) in self._classifiers(sandbox).items():

                def record(request: Request, service: str = service, classify: Any = classify) -> bool:
                    kind = classify(request)
                    if kind is not None:
                        writes.append((service, kind))
                    return False  # never fires: it only watches

                server.faults.add(Fault(where=record, times=0))
            first = self.run(sandbox)
            for _, (server, _classify) in self._classifiers(sandbox).items():
                server.faults.clear()
            second = self.run(sandbox)
            reference = Reference(world, writes, take_snapshot(sandbox), [first[0], second[0]], first[1])
        finally:
            sandbox.stop()
            shutil.rmtree(sandbox.directory.parent, ignore_errors=True)
        self._references[world] = reference
        return reference

    def try_point(self, point: KillPoint) -> Outcome:
        """Interrupt a run at `point`, run again to the end, and compare with the reference."""
        reference = self.reference(point.world)
        sandbox = self.start(point.world)
        try:
            server, classify = self._classifiers(sandbox)[point.service]
            victim = _Victim()
            fault = Fault(
                where=lambda request: classify(request) == point.kind,
                nth=point.nth,
                lose_reply=True,
                on_applied=victim.kill if point.action == "kill" else None,
            )
            server.faults.add(fault)
            first, first_output = self.run(sandbox, victim)
            server.faults.clear()
            # The run to the end, then an idle one, as the reference had after its clean run.
            second, second_output = self.run(sandbox)
            third, third_output = self.run(sandbox)
            duplicates, losses = compare(reference.snapshot, take_snapshot(sandbox))
            return Outcome(
                point,
                fired=fault.fired > 0,
                codes=[first, second, third],
                duplicates=duplicates,
                losses=losses,
                output=first_output + second_output + third_output,
            )
        finally:
            sandbox.stop()
            shutil.rmtree(sandbox.directory.parent, ignore_errors=True)


@dataclass
class Reference:
    """An uninterrupted run of a world: the writes it made, in order, and both sides afterwards."""

    world: World
    writes: list[tuple[str, str]]
    snapshot: Snapshot
    codes: list[int]
    output: str

    def kinds(self) -> Counter[tuple[str, str]]:
        return Counter(self.writes)

    def points(self, actions: tuple[str, ...] = ("kill", "lost-reply")) -> Iterator[KillPoint]:
        """Every kill point of this world: each write of each kind, with each action."""
        for (service, kind), count in sorted(self.kinds().items()):
            for nth in range(1, count + 1):
                for action in actions:
                    yield KillPoint(self.world, service, kind, nth, action)


def spread(points: list[KillPoint], budget: int) -> list[KillPoint]:
    """At most `budget` kill points, chosen deterministically to meet as many kinds of write as
    possible: the services take turns, each service's kinds take turns (alternating the actions),
    and within a kind the first write comes first, then the last, then ones in between."""
    occurrences: dict[tuple[str, str, str], list[KillPoint]] = {}
    for point in points:
        occurrences.setdefault((point.service, point.kind, point.action), []).append(point)
    queues: dict[tuple[str, str, str], list[KillPoint]] = {}
    for key, group in occurrences.items():
        order = [group[0]] + ([group[-1]] if len(group) > 1 else [])
        middle = group[1:-1]
        order += middle[:: max(1, len(middle) // 2)] + [p for p in middle if p not in order]
        queues[key] = list(dict.fromkeys(order))
    services = sorted({key[0] for key in queues}, reverse=True)  # Salesforce first
    turns: dict[str, list[tuple[str, str, str]]] = {}
    for service in services:
        kinds = sorted({key[1] for key in queues if key[0] == service})
        actions = sorted({key[2] for key in queues if key[0] == service})
        turns[service] = [
            (service, kind, actions[(i + shift) % len(actions)])
            for shift in range(len(actions))
            for i, kind in enumerate(kinds)
            if (service, kind, actions[(i + shift) % len(actions)]) in queues
        ]
    order: list[tuple[str, str, str]] = []
    while any(turns.values()):
        for service in services:
            if turns[service]:
                order.append(turns[service].pop(0))
    chosen: list[KillPoint] = []
    depth = 0
    while len(chosen) < budget and any(depth < len(queues[key]) for key in order):
        for key in order:
            if depth < len(queues[key]) and len(chosen) < budget:
                chosen.append(queues[key][depth])
        depth += 1
    return chosen
