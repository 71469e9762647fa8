"""How `rgsync sandbox serve` and `rgsync demo` use the EWS emulator: start it for a scenario, point
`[mailbox]` at it, and leave the password where `rgsync connect exchange` would.

The sandbox signs in with basic authentication: NTLM cannot be spoken to a loopback emulator, and
everything after the sign-in goes through EWS exactly as it does with a real server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rgsync.sandbox.ews import RunningEws, start_ews

PASSWORD_SECRET = "exchange.password"  # where the Exchange adapter reads its password


def start(scenario: Any, _directory: Path) -> RunningEws:
    """Start the emulator loaded with a scenario (`Scenario.google_scenario()`'s data)."""
    return start_ews(scenario=scenario.google_scenario())


def settings(running: RunningEws) -> dict[str, Any]:
    """The `[mailbox]` keys that point the Exchange adapter at the emulator."""
    return {"ews-url": running.url, "username": running.username, "auth-type": "basic"}


def secrets(running: RunningEws) -> dict[str, str]:
    """The secret the adapter reads: the mailbox password."""
    return {PASSWORD_SECRET: running.password}


def endpoints(running: RunningEws) -> dict[str, Any]:
    """What endpoints.json says about the emulator (for scripts using EWS directly)."""
    return {
        "url": running.url,
        "username": running.username,
        "password": running.password,
        "address": running.address,
        "auth": "basic",
    }
