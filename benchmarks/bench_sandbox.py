"""API-call benchmark through the real adapters against the loopback emulators (SPEC §10).

Run: `python benchmarks/bench_sandbox.py [--emails 1000] [--mailbox gmail|exchange|microsoft365]`.

Starts the sandbox on the minimal scenario (Ann and her org), delivers N emails from Bob, then runs
three sessions and prints, for each, the Salesforce and mailbox calls the emulators answered (per
route) and the time taken:
1. the first session, which saves the N emails (writes should be about N/200 collections);
2. a session that reads back the first one's own writes (labels/categories it set);
3. an idle session (one Salesforce call; one call per mailbox stream or folder).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from rgsync.demo.sandbox import start_sandbox
from rgsync.demo.scenarios import scenario_path
from rgsync.sandbox.scenario import load_scenario
from rgsync.session import RunOptions
from rgsync.sync import run_session


def bob_email(n: int, address: str) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = "Bob Baker <bob@globex.com>"
    message["To"] = address
    message["Subject"] = f"Order question {n}"
    message["Date"] = format_datetime(datetime.now(UTC) - timedelta(minutes=n % 600))
    message["Message-ID"] = f"<bench-{n}@globex.com>"
    message.set_content(f"Question number {n}.")
    return message.as_bytes()


def deliver(sandbox: object, count: int) -> None:
    running = sandbox.mailbox  # type: ignore[attr-defined]
    address = sandbox.scenario.user.address  # type: ignore[attr-defined]
    kind = sandbox.mailbox_kind  # type: ignore[attr-defined]
    for n in range(count):
        raw = bob_email(n, address)
        if kind == "gmail":
            running.state.add_message(raw, ["INBOX"])
        else:
            running.state.add_message(raw, "inbox")


def calls(server: object) -> Counter[str]:
    return Counter(server.calls)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--mailbox", default="gmail", choices=["gmail", "exchange", "microsoft365"])
    args = parser.parse_args()
    os.environ["RGSYNC_KEYRING"] = "file"
    with tempfile.TemporaryDirectory() as tmp:
        scenario = load_scenario(scenario_path("minimal"))
        sandbox = start_sandbox(scenario, Path(tmp) / "sbx", mailbox=args.mailbox)
        try:
            deliver(sandbox, args.emails)
            for label in ("first session", "reads back its own writes", "idle"):
                sf_before, mb_before = calls(sandbox.salesforce.server), calls(sandbox.mailbox.server)
                started = time.perf_counter()
                result = run_session(sandbox.paths, RunOptions(force=True))
                seconds = time.perf_counter() - started
                sf = calls(sandbox.salesforce.server) - sf_before
                mb = calls(sandbox.mailbox.server) - mb_before
                saved = result.streams.get(next(iter(result.streams))) if result.streams else None
                print(
                    f"== {label}: {result.status} in {seconds:.2f} s; "
                    f"saved {saved.created['salesforce'] if saved else 0}"
                )
                print(f"   Salesforce {sum(sf.values())} calls: {dict(sorted(sf.items()))}")
                print(f"   mailbox    {result.api_calls.get('mailbox', 0)} calls: {dict(sorted(mb.items()))}")
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
