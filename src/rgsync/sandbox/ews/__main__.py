"""Serve the EWS emulator in the foreground: `python -m rgsync.sandbox.ews [--scenario FILE]`.

The scenario is a sandbox scenario file (TOML, like examples/scenarios/demo.toml) or a JSON file in
the emulator's own shapes. Prints the endpoint and the Basic sign-in, then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from rgsync.sandbox.ews import start_ews


def _load(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    if path.endswith(".toml"):
        from rgsync.errors import UsageError
        from rgsync.sandbox.scenario import load_scenario

        try:
            return load_scenario(path).google_scenario()
        except UsageError as exc:
            raise SystemExit(str(exc)) from None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(
            f"Cannot read the scenario file {path}: {exc.strerror}. Pass an existing file."
        ) from None
    except json.JSONDecodeError as exc:
        raise SystemExit(
            f"The scenario file {path} is not valid JSON (line {exc.lineno}). Fix it and retry."
        ) from None
    if not isinstance(data, dict):
        raise SystemExit(f"The scenario file {path} must hold a JSON object. Fix it and retry.")
    return data


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, print its endpoint and sign-in, and block until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m rgsync.sandbox.ews", description=__doc__)
    parser.add_argument(
        "--scenario", help="a scenario file: .toml (sandbox scenario) or .json (emulator shapes)"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    args = parser.parse_args(argv)
    ews = start_ews(scenario=_load(args.scenario), port=args.port)
    print(f"EWS emulator serving at {ews.url}", flush=True)
    print(f"Basic sign-in: {ews.username} / {ews.password}", flush=True)
    print(f"Mailbox: {ews.address}  (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        ews.stop()
    print("Stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
