"""Serve the Google emulator in the foreground: `python -m rgsync.sandbox.google [--scenario FILE]`.

Prints the base URL and the bearer token, then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from rgsync.sandbox.google import start_google


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
    """Start the emulator, print its URL and token, and block until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m rgsync.sandbox.google", description=__doc__)
    parser.add_argument("--scenario", help="a JSON scenario file (user, messages, events, tasks, contacts)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--token", help="bearer token to accept (default: a random one)")
    args = parser.parse_args(argv)
    google = start_google(scenario=_load(args.scenario), token=args.token, port=args.port)
    print(f"Google emulator serving at {google.url}", flush=True)
    print(f"Bearer token: {google.token}", flush=True)
    print(f"Mailbox: {google.address}  (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        google.stop()
    print("Stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
