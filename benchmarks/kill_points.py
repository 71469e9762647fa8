"""Kill points through the real adapters, in bulk: how often an interrupted `rgsync run` duplicates
or loses something (SPEC §7).

Run: `python benchmarks/kill_points.py [--world ci|full] [--jobs N] [--limit N] [--mailbox KIND]`.

For every world (Gmail, Microsoft 365 and Exchange, each with emails saved as EmailMessage and as
Task) it makes one uninterrupted reference run, then, for each write the reference made, a run
killed right after the emulator carried that write out and a run whose answer to that write was
lost, each followed by a run to the end, and compares both sides and the links table with the
reference (see tests/killtest/kill_harness.py). It prints the kill points that left a difference
and then `K kill points, D duplicates, L losses`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "killtest"))

from kill_harness import Harness, KillPoint, Outcome, Reference, World, spread
from kill_world import CI_WORLD, FULL_WORLD

MAILBOXES = ("gmail", "microsoft365", "exchange")
_harness: Harness | None = None


def _start_worker(root: str, now: datetime, references: list[Reference]) -> None:
    global _harness
    _harness = Harness(Path(tempfile.mkdtemp(dir=root)), now)
    for reference in references:
        _harness.adopt(reference)


def _try(point: KillPoint) -> Outcome:
    assert _harness is not None
    outcome = _harness.try_point(point)
    outcome.output = ""  # the parent only needs the differences
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", choices=["ci", "full"], default="full")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="at most this many kill points per world")
    parser.add_argument("--mailbox", choices=MAILBOXES, action="append")
    args = parser.parse_args()
    os.environ["RGSYNC_KEYRING"] = "file"
    size = FULL_WORLD if args.world == "full" else CI_WORLD
    worlds = [World(m, e, size) for m in args.mailbox or MAILBOXES for e in (True, False)]
    now = datetime.now(UTC)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        harness = Harness(Path(root), now)
        try:
            references = [harness.reference(world) for world in worlds]
        finally:
            harness.close()
        points: list[KillPoint] = []
        for reference in references:
            bad = [c for c in reference.codes if c not in (0, 1)]
            if bad:
                raise SystemExit(f"the reference run of {reference.world.name} failed: {reference.output}")
            every = list(reference.points())
            points += spread(every, args.limit) if args.limit else every
        print(f"{len(points)} kill points over {len(worlds)} worlds ({size.label} each)", flush=True)
        with ProcessPoolExecutor(
            max_workers=args.jobs, initializer=_start_worker, initargs=(root, now, references)
        ) as pool:
            outcomes = list(pool.map(_try, points))
    duplicates = sum(sum(o.duplicates.values()) for o in outcomes)
    losses = sum(sum(o.losses.values()) for o in outcomes)
    unfired = [o for o in outcomes if not o.fired]
    by_kind: Counter[str] = Counter()
    for outcome in outcomes:
        if not outcome.clean:
            print(outcome.describe(limit=3))
            p = outcome.point
            by_kind[f"{p.world.mailbox} {p.action} after {p.service} {p.kind}"] += 1
    if by_kind:
        print("\nKill points with a difference, by mailbox, action and write:")
        for kind, count in sorted(by_kind.items()):
            print(f"  {count:4d}  {kind}")
    if unfired:
        print(f"{len(unfired)} kill points never reached their write (the run took another path)")
    print(f"wall time {time.perf_counter() - started:.0f} s with {args.jobs} jobs")
    print(f"{len(outcomes)} kill points, {duplicates} duplicates, {losses} losses")


if __name__ == "__main__":
    main()
