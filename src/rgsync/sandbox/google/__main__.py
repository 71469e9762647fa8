"""Serve the Google emulator in the foreground: `python -m rgsync.sandbox.google [--scenario FILE]`.

The scenario is a JSON file in the emulator's shapes or a sandbox scenario (.toml). Prints the base
URL and the bearer token, then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys

from rgsync.sandbox.foreground import read_scenario, run_main, serve_until_interrupted
from rgsync.sandbox.google import start_google


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, print its URL and token, and block until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m rgsync.sandbox.google", description=__doc__)
    parser.add_argument(
        "--scenario", help="a scenario file: .json (emulator shapes) or .toml (sandbox scenario)"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--token", help="bearer token to accept (default: a random one)")
    args = parser.parse_args(argv)
    scenario = read_scenario(args.scenario, from_toml=lambda s: s.google_scenario())
    google = start_google(scenario=scenario, token=args.token, port=args.port)
    return serve_until_interrupted(
        [
            f"Google emulator serving at {google.url}",
            f"Bearer token: {google.token}",
            f"Mailbox: {google.address}  (Ctrl-C to stop)",
        ],
        google.stop,
    )


if __name__ == "__main__":
    sys.exit(run_main(main))
