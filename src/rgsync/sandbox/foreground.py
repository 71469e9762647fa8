"""Running one emulator on its own (`python -m rgsync.sandbox.NAME`): reading its scenario file and
serving in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


class ScenarioFileError(SystemExit):
    """A scenario file that cannot be used: one line on stderr, exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


def read_scenario(
    path: str | Path | None, *, from_toml: Callable[[Any], dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The emulator's scenario dict from a JSON file in its own shapes, or from a sandbox scenario
    (TOML, like examples/scenarios/demo.toml) converted by `from_toml`. None when no file is given."""
    if path is None:
        return None
    path = Path(path)
    if path.suffix == ".toml" and from_toml is not None:
        from rgsync.sandbox.scenario import ScenarioError, load_scenario

        try:
            return from_toml(load_scenario(path))
        except ScenarioError as exc:
            raise ScenarioFileError(exc.message) from None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioFileError(
            f"Cannot read the scenario file {path}: {exc.strerror}. Pass an existing file."
        ) from None
    except json.JSONDecodeError as exc:
        raise ScenarioFileError(
            f"The scenario file {path} is not valid JSON (line {exc.lineno}). Fix it and retry."
        ) from None
    if not isinstance(data, dict):
        raise ScenarioFileError(f"The scenario file {path} must hold a JSON object. Fix it and retry.")
    return data


def serve_until_interrupted(lines: Iterable[str], stop: Callable[[], None]) -> int:
    """Print how to reach the emulator, wait for Ctrl-C or SIGTERM, stop it, and say so.

    Both signals are taken over before the first line is printed: whoever reads that line may
    signal at once, and a Ctrl-C landing between two prints used to end the process with an
    unhandled KeyboardInterrupt instead of a clean stop.
    """
    done = threading.Event()
    previous = {
        number: signal.signal(number, lambda *_: done.set()) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        for line in lines:
            print(line, flush=True)
        done.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        stop()
    print("Stopped.", flush=True)
    return 0


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run an emulator's `main`, turning a bad scenario file into one line on stderr and exit 2."""
    try:
        return main(argv)
    except ScenarioFileError as exc:
        print(exc.message, file=sys.stderr)
        return 2
