"""Serve the Graph emulator in the foreground: `python -m rgsync.sandbox.graph [--scenario FILE]`.

Prints the Graph URL, the authority, the app's ids, the CA file to trust and a ready access token,
then serves until Ctrl-C. The scenario file is JSON in the shape `start_graph` takes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rgsync.sandbox.foreground import read_scenario, run_main, serve_until_interrupted
from rgsync.sandbox.graph import start_graph


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, print how to reach it, and block until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m rgsync.sandbox.graph", description=__doc__)
    parser.add_argument(
        "--scenario", help="a scenario file: .json (emulator shapes) or .toml (sandbox scenario)"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--directory", help="where to write the CA file (default: a temporary folder)")
    args = parser.parse_args(argv)
    scenario = read_scenario(args.scenario, from_toml=lambda s: s.google_scenario())
    with tempfile.TemporaryDirectory(prefix="rgsync-graph-") as scratch:
        graph = start_graph(Path(args.directory or scratch), scenario=scenario, port=args.port)
        return serve_until_interrupted(
            [
                f"Graph emulator serving at {graph.graph_url}",
                f"Authority:  {graph.authority}",
                f"Client id:  {graph.client_id}",
                f"Tenant id:  {graph.tenant_id}",
                f"Client secret: {graph.client_secret}",
                f"Trust this CA: {graph.ca_file}",
                f"Access token: {graph.token}",
                f"Mailbox: {graph.address}  (Ctrl-C to stop)",
            ],
            graph.stop,
        )


if __name__ == "__main__":
    sys.exit(run_main(main))
