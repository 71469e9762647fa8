"""`python -m rgsync.sandbox.salesforce [--scenario FILE.json] [--directory DIR] [--port N]`:
serve an emulated org in the foreground, print how to reach it, stop cleanly on Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rgsync.sandbox.foreground import read_scenario, run_main, serve_until_interrupted

from . import ScenarioError, start_salesforce


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until interrupted; exit status 2 for a bad scenario file."""
    parser = argparse.ArgumentParser(prog="python -m rgsync.sandbox.salesforce", description=__doc__)
    parser.add_argument(
        "--scenario", type=Path, help="scenario JSON file (users, records, list views, rules)"
    )
    parser.add_argument(
        "--directory", type=Path, help="where to write the CA certificate (default: a temporary folder)"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    args = parser.parse_args(argv)
    scenario = read_scenario(args.scenario)
    with tempfile.TemporaryDirectory(prefix="rgsync-salesforce-") as scratch:
        directory = args.directory or Path(scratch)
        try:
            running = start_salesforce(directory, scenario=scenario, port=args.port)
        except ScenarioError as problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        except OSError as problem:
            print(
                f"error: can't listen on 127.0.0.1:{args.port}: {problem}; choose another --port",
                file=sys.stderr,
            )
            return 2
        return serve_until_interrupted(
            [
                f"url:      {running.url}",
                f"ca file:  {running.ca_file}",
                f"token:    {running.token}",
                f"user id:  {running.user_id}",
                "Press Ctrl-C to stop.",
            ],
            running.stop,
        )


if __name__ == "__main__":
    sys.exit(run_main(main))
