"""A loopback emulator of Microsoft Graph v1.0 and its sign-in authority (HTTPS on 127.0.0.1), for
the Microsoft 365 adapter's tests and for `rgsync sandbox serve|demo --mailbox microsoft365`.

    graph = start_graph(tmp_path, scenario={"user": {"address": "ann@acme.com"}, "messages": [...]})
    try:
        ...  # msal against graph.authority (trusting graph.ca_file), requests against graph.url
    finally:
        graph.stop()

It serves the authority (`/{tenant}/v2.0/.well-known/openid-configuration`, the device-code and
client-credentials grants) and the Graph paths the adapter uses: message delta per folder,
messages (categories, MIME), calendar-view delta with recurring series as occurrences, events
(transactionId, extended properties, attendees: any request that would notify attendees is
recorded, never sent), contact folders and contacts (+ delta), To Do lists and tasks (+ delta,
linked resources), and `$batch`. Paging follows OData (`@odata.nextLink`/`@odata.deltaLink`,
`Prefer: odata.maxpagesize`), errors Graph's JSON shape, ids honour `Prefer: IdType="ImmutableId"`.

Calls are counted per route in `server.calls` ('graph.messages.delta', 'graph.calendarView.delta',
'graph.batch', 'oauth.token', …; requests inside a batch as 'batch:<route>'), and faults go through
`server.faults` (whole HTTP calls) or `state.throttle_in_batch` (requests inside a batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rgsync.sandbox.graph.common import error_response, throttled_response
from rgsync.sandbox.graph.emulator import GraphEmulator
from rgsync.sandbox.graph.state import GraphState
from rgsync.sandbox.http import EmulatorServer, Fault, make_tls

__all__ = ["DEFAULT_ADDRESS", "GraphEmulator", "GraphState", "RunningGraph", "start_graph"]

DEFAULT_ADDRESS = "ann@acme.com"


@dataclass
class RunningGraph:
    """A started emulator.

    `url` is the base (https://127.0.0.1:PORT; Graph lives under `url + '/v1.0'`), `authority` the
    sign-in authority for msal (`url + '/' + tenant_id`), `ca_file` the PEM of the throw-away CA to
    trust, `client_id`/`tenant_id`/`client_secret` the registered app, `token` a ready delegated
    access token, `address` the mailbox, `server` the counters and faults, `state` the data and
    its setup helpers.
    """

    url: str
    authority: str
    ca_file: Path
    client_id: str
    tenant_id: str
    client_secret: str
    token: str
    address: str
    server: EmulatorServer
    state: GraphState

    @property
    def graph_url(self) -> str:
        """The Graph v1.0 root, as the adapter's `graph-url` setting takes it."""
        return self.url + "/v1.0"

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.server.stop()

    def __enter__(self) -> RunningGraph:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- faults (a regular expression matched against 'METHOD /path' of whole HTTP calls) ---------
    def inject_throttling(self, match: str = ".*", times: int = 1, *, retry_after: int = 1) -> Fault:
        """The next `times` matching calls get 429 TooManyRequests with Retry-After."""
        return self.server.faults.add(
            Fault(match=match, response=throttled_response(retry_after), times=times)
        )

    def inject_5xx(self, match: str = ".*", times: int = 1, *, status: int = 503) -> Fault:
        """The next `times` matching calls get 503 ServiceUnavailable or 504 GatewayTimeout."""
        code = {503: "ServiceUnavailable", 504: "GatewayTimeout"}.get(status, "InternalServerError")
        message = {503: "The service is temporarily unavailable.", 504: "The gateway timed out."}.get(
            status, "An internal server error occurred."
        )
        return self.server.faults.add(
            Fault(match=match, response=error_response(status, code, message), times=times)
        )

    def inject_latency(self, match: str = ".*", seconds: float = 1.0, times: int = 1) -> Fault:
        """Delay the next `times` matching calls (through `server.sleep`, which tests may replace)."""
        return self.server.faults.add(Fault(match=match, latency=seconds, times=times))

    def drop_connection_nth(self, match: str = ".*", nth: int = 1) -> Fault:
        """Close the connection without an answer on the N-th matching call."""
        return self.server.faults.add(Fault(match=match, drop=True, nth=nth))

    def fail_nth(self, match: str = ".*", nth: int = 1, *, status: int = 500) -> Fault:
        """Answer the N-th matching call with a Graph error of this status."""
        return self.server.faults.add(
            Fault(
                match=match,
                response=error_response(status, "InternalServerError", "An internal server error occurred."),
                nth=nth,
            )
        )


def start_graph(
    directory: Path,
    *,
    scenario: dict[str, Any] | None = None,
    clock: Callable[[], datetime] | None = None,
    port: int = 0,
) -> RunningGraph:
    """Start the emulator on 127.0.0.1 (a free port unless `port` is given) in a background thread.

    `directory` receives the throw-away CA clients must trust (`graph/sandbox-ca.pem`, a folder of
    its own so another emulator's CA in the same directory is left alone); `scenario` is
    the sandbox's scenario data (see `rgsync.sandbox.graph.scenario`); `clock` returns the aware
    "now" used for every timestamp and token expiry (default: the real clock).
    """
    scenario = scenario or {}
    user = scenario.get("user") or {}
    address = str(user.get("address") or DEFAULT_ADDRESS)
    time_zone = str(user.get("time_zone") or user.get("timeZone") or "UTC")
    state = GraphState(address, name=str(user.get("name") or ""), clock=clock, time_zone=time_zone)
    state.load(scenario)
    tls = make_tls(Path(directory) / "graph")
    emulator = GraphEmulator(state)
    server = EmulatorServer(emulator, tls=tls.context, port=port)
    emulator.server = server
    server.start()
    identity = state.identity
    return RunningGraph(
        url=server.url,
        authority=f"{server.url}/{identity.tenant_id}",
        ca_file=tls.ca_file,
        client_id=identity.client_id,
        tenant_id=identity.tenant_id,
        client_secret=identity.client_secret,
        token=identity.ready_token(),
        address=address,
        server=server,
        state=state,
    )
