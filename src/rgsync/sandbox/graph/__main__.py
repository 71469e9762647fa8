"""Serve the Graph emulator in the foreground: `python -m rgsync.sandbox.graph [--scenario FILE]`.

Prints the Graph URL, the authority, the app's ids, the CA file to trust and a ready access token,
then serves until Ctrl-C. The scenario file is JSON in the shape `start_graph` takes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from rgsync.sandbox.graph import start_graph


def _load(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(
            f"Cannot read the scenario file {path}: {exc.strerror}. Pass an existing JSON file."
        ) from None
    except json.JSONDecodeError as exc:
        raise SystemExit(
            f"The scenario file {path} is not valid JSON (line {exc.lineno}). Fix it and retry."
        ) from None
    if not isinstance(data, dict):
        raise SystemExit(f"The scenario file {path} must hold a JSON object. Fix it and retry.")
    return data


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, print how to reach it, and block until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m rgsync.sandbox.graph", description=__doc__)
    parser.add_argument("--scenario", help="a JSON scenario file (user, messages, events, tasks, contacts)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--directory", help="where to write the CA file (default: a temporary folder)")
    args = parser.parse_args(argv)
    scenario = _load(args.scenario)
    with tempfile.TemporaryDirectory(prefix="rgsync-graph-") as scratch:
        graph = start_graph(Path(args.directory or scratch), scenario=scenario, port=args.port)
        print(f"Graph emulator serving at {graph.graph_url}", flush=True)
        print(f"Authority:  {graph.authority}", flush=True)
        print(f"Client id:  {graph.client_id}", flush=True)
        print(f"Tenant id:  {graph.tenant_id}", flush=True)
        print(f"Client secret: {graph.client_secret}", flush=True)
        print(f"Trust this CA: {graph.ca_file}", flush=True)
        print(f"Access token: {graph.token}", flush=True)
        print(f"Mailbox: {graph.address}  (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            graph.stop()
    print("Stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
