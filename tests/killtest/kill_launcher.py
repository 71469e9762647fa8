"""Starts `rgsync` runs as separate processes, quickly: a parent that has already imported rgsync and
every adapter's client library forks one child per run.

Each child is a real process of its own (its own pid, sockets, SQLite connection and memory) running
the console script's `main(argv)`, so SIGKILL ends it at any instant as it would end a cron run; the
fork only saves the second of imports a fresh interpreter would spend on every run.

Protocol, one JSON object a line: the harness writes {"argv": [...], "out": FILE, "err": FILE}; the
launcher answers {"pid": N} as soon as the child runs, then {"pid": N, "code": C} when it ended
(C is the exit code, or minus the signal that ended it).
"""

from __future__ import annotations

import importlib
import json
import os
import sys

# What a run imports lazily, loaded once here so the children start warm.
WARM = (
    "rgsync.cli",
    "rgsync.sync",
    "rgsync.providers.salesforce",
    "rgsync.providers.google.mailbox",
    "rgsync.providers.microsoft365.mailbox",
    "rgsync.providers.exchange.mailbox",
)


def _child(argv: list[str], out: str, err: str) -> None:
    code = 70
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
        os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the child ends with os._exit
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        from rgsync.cli import main

        try:
            main(argv)
            code = 0
        except SystemExit as exited:
            code = exited.code if isinstance(exited.code, int) else (0 if exited.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    """Answer run requests from stdin until it closes."""
    for name in WARM:
        importlib.import_module(name)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request["argv"], request["out"], request["err"])
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        print(json.dumps({"pid": pid, "code": code}), flush=True)


if __name__ == "__main__":
    serve()
