"""Many emulated mailboxes behind one loopback port, and a per-call latency for any emulator.

A team sandbox serves hundreds or thousands of mailboxes; one HTTP server (and one thread) per
mailbox would spend the machine on idle servers. `TenantRouter` serves them all on one port: the
mailbox of user NAME lives under the path prefix `/u/NAME/`, which the router strips before the
user's own emulator sees the call. The adapters build every URL from their endpoint setting, so a
user's `gmail-api-url = http://127.0.0.1:PORT/u/NAME/` is all it takes. The tenant's emulator is
told its prefix in `X-Forwarded-Prefix` (as a reverse proxy would), so that the links it builds
itself — Graph's `@odata.nextLink`, its sign-in endpoints — lead back through the router.

`Delayed` adds a fixed latency to every call an emulator answers, the way a real service's round
trip does, so a session against the sandbox is bound by waiting on I/O as it is in production.
Calls made from inside another call (the parts of a batch, a Composite's subrequests) travel in
their outer request and are not delayed again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rgsync.sandbox.http import Emulator, Request, Response

TENANT_PREFIX = "/u/"
PREFIX_HEADER = "x-forwarded-prefix"


class _Nesting(threading.local):
    depth = 0


class Delayed:
    """Wrap an emulator so that each outer call waits `seconds` before it is answered."""

    def __init__(self, inner: Any, seconds: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.inner = inner
        self.seconds = seconds
        self.sleep = sleep
        self._nesting = _Nesting()

    def route_name(self, request: Request) -> str:
        name: str = self.inner.route_name(request)
        return name

    def handle(self, request: Request) -> Response:
        outer = self._nesting.depth == 0
        if outer and self.seconds > 0:
            self.sleep(self.seconds)
        self._nesting.depth += 1
        try:
            response: Response = self.inner.handle(request)
            return response
        finally:
            self._nesting.depth -= 1

    def __getattr__(self, name: str) -> Any:
        # Everything else (fault line, org, helpers) is the wrapped emulator's.
        return getattr(self.inner, name)


def tenant_of(path: str) -> tuple[str, str] | None:
    """Split '/u/NAME/rest' into (NAME, '/rest'); None for a path outside any tenant."""
    if not path.startswith(TENANT_PREFIX):
        return None
    name, slash, rest = path[len(TENANT_PREFIX) :].partition("/")
    if not name:
        return None
    return name, slash + rest if slash else "/"


class TenantRouter:
    """Serve one emulator per tenant under `/u/NAME/`; an unknown tenant gets a 404."""

    def __init__(self) -> None:
        self.tenants: dict[str, Emulator] = {}
        self._lock = threading.Lock()

    def add(self, name: str, emulator: Emulator) -> None:
        """Serve `emulator` under `/u/name/` from now on."""
        if "/" in name or not name:
            raise ValueError(f"tenant name {name!r} must be a non-empty path segment")
        with self._lock:
            self.tenants[name] = emulator

    def _split(self, request: Request) -> tuple[Emulator, Request] | None:
        found = tenant_of(request.path)
        if found is None:
            return None
        name, rest = found
        emulator = self.tenants.get(name)
        if emulator is None:
            return None
        headers = {**request.headers, PREFIX_HEADER: f"{TENANT_PREFIX}{name}"}
        inner = Request(request.method, rest, request.query, headers, request.body)
        return emulator, inner

    def route_name(self, request: Request) -> str:
        """The tenant's own route name (calls are counted per route across all tenants)."""
        split = self._split(request)
        if split is None:
            return "unknown"
        emulator, inner = split
        return emulator.route_name(inner)

    def handle(self, request: Request) -> Response:
        """Answer with the tenant's emulator, the prefix removed."""
        split = self._split(request)
        if split is None:
            return Response(404, {"error": {"code": 404, "message": "no such mailbox in this sandbox"}})
        emulator, inner = split
        return emulator.handle(inner)
