"""Session benchmarks over the in-memory providers: API calls, time and memory (SPEC §10).

Run: `python benchmarks/bench_session.py [--emails 1000 5000]`. Prints one row per mailbox size:
Salesforce calls of the first session (by kind), calls of an idle second session, wall time and
the peak of Python allocations during the first session. Memory must stay about flat as the
mailbox grows (emails are processed page by page); calls must grow as N/200 for writes.

Not part of the test suite: timings vary with the machine, so they are measured here, not asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "system"))

from memory_world import make_world

SENDERS = ["bob@globex.com", "carol@initech.com", "erin@hooli.com", "frank@acme.com", "dave@gmail.com"]


def measure(emails: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp) / "ann")
        for n in range(emails):
            world.email(SENDERS[n % len(SENDERS)], subject=f"Message {n}", hours_ago=1 + n / 1000)
        tracemalloc.start()
        started = time.perf_counter()
        first = world.run()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        saved = len(world.crm.emails)
        by_kind = dict(world.crm.calls_by_kind)
        world.tick()
        before = world.crm.api_calls
        mailbox_before = world.mailbox.api_calls
        world.run()
        return {
            "emails": emails,
            "saved": saved,
            "sf_calls": first.api_calls["salesforce"],
            "sf_writes": by_kind.get("apply", 0),
            "sf_lookups": sum(v for k, v in by_kind.items() if k not in ("apply", "changes", "org_info")),
            "idle_sf_calls": world.crm.api_calls - before,
            "idle_mailbox_calls": world.mailbox.api_calls - mailbox_before,
            "seconds": round(elapsed, 2),
            "peak_kib": peak // 1024,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, nargs="+", default=[200, 1000, 5000])
    args = parser.parse_args()
    rows = [measure(n) for n in args.emails]
    columns = list(rows[0])
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))


if __name__ == "__main__":
    main()
