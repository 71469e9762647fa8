"""How `rgsync sandbox serve` and `rgsync demo` use the Graph emulator: start it for a scenario,
point `[mailbox]` at it, and sign in the way a user would (msal's device-code flow, which the
emulator approves by itself), so the sandbox profile runs the adapter's real sign-in path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rgsync.sandbox.graph import RunningGraph, start_graph


def start(scenario: Any, directory: Path) -> RunningGraph:
    """Start the emulator loaded with a scenario (`Scenario.google_scenario()`'s data)."""
    return start_graph(Path(directory), scenario=scenario.google_scenario())


def settings(running: RunningGraph) -> dict[str, Any]:
    """The `[mailbox]` keys that point the Microsoft 365 adapter at the emulator."""
    return {
        "graph-url": running.graph_url,
        "authority-url": running.url,
        "tenant-id": running.tenant_id,
        "client-id": running.client_id,
        "ca-file": str(running.ca_file),
    }


def secrets(running: RunningGraph) -> dict[str, str]:
    """The credentials the adapter reads: msal's token cache after a device-code sign-in."""
    from rgsync.providers.microsoft365.auth import (
        TOKEN_CACHE,
        SignInConfig,
        http_session,
        start_device_sign_in,
    )

    config = SignInConfig(running.client_id, running.authority, str(running.ca_file))
    started = start_device_sign_in(config, None, http_session(config.ca_file))
    started.wait(sleep=lambda _seconds: None)
    return {TOKEN_CACHE: started.serialized_cache}


def endpoints(running: RunningGraph) -> dict[str, Any]:
    """What endpoints.json says about the emulator (for scripts using Graph directly)."""
    return {
        "url": running.url,
        "graph_url": running.graph_url,
        "authority": running.authority,
        "tenant_id": running.tenant_id,
        "client_id": running.client_id,
        "client_secret": running.client_secret,
        "ca_file": str(running.ca_file),
        "access_token": running.token,
        "address": running.address,
    }
