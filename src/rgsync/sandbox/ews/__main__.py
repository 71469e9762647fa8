"""Serve the EWS emulator in the foreground: `python -m rgsync.sandbox.ews [--scenario FILE]`.

The scenario is a sandbox scenario file (TOML, like examples/scenarios/demo.toml) or a JSON file in
the emulator's own shapes. Prints the endpoint and the Basic sign-in, then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys

from rgsync.sandbox.ews import start_ews
from rgsync.sandbox.foreground import read_scenario, run_main, serve_until_interrupted


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, print its endpoint and sign-in, and block until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m rgsync.sandbox.ews", description=__doc__)
    parser.add_argument(
        "--scenario", help="a scenario file: .toml (sandbox scenario) or .json (emulator shapes)"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    args = parser.parse_args(argv)
    ews = start_ews(
        scenario=read_scenario(args.scenario, from_toml=lambda s: s.google_scenario()), port=args.port
    )
    return serve_until_interrupted(
        [
            f"EWS emulator serving at {ews.url}",
            f"Basic sign-in: {ews.username} / {ews.password}",
            f"Mailbox: {ews.address}  (Ctrl-C to stop)",
        ],
        ews.stop,
    )


if __name__ == "__main__":
    sys.exit(run_main(main))
