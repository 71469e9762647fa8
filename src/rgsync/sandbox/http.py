"""The HTTP plumbing every emulator shares: a loopback server, requests/responses, call counters,
fault injection and throw-away TLS.

An emulator is an object with a `handle(request) -> Response` method. `EmulatorServer` serves it on
127.0.0.1 (a free port, HTTP or HTTPS), counts every call per route, and applies the faults a test
asked for before the emulator sees the request: latency, an error status with the service's own
error body, a dropped connection, or "fail the N-th call".
"""

from __future__ import annotations

import contextlib
import email.parser
import json
import re
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One HTTP request as an emulator sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    """What an emulator answers. `body` may be bytes, str, or anything JSON-serialisable."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


class Emulator(Protocol):
    """What `EmulatorServer` serves."""

    def handle(self, request: Request) -> Response: ...

    def route_name(self, request: Request) -> str:
        """A short stable name for counting calls (e.g. 'query', 'composite', 'gmail.history.list')."""
        ...


@dataclass
class Fault:
    """One injected failure.

    `match` is a regular expression searched in 'METHOD /path'. The fault fires on matching calls
    number `nth` (1-based, counted among matching calls) or, when `nth` is None, on the next `times`
    matching calls. `response` is returned instead of the emulator's answer; `drop` closes the
    connection without an answer; `latency` (seconds) delays the call and then lets it through
    unless a response or drop is also set.

    Two faults act after the emulator has carried the call out, the way a real service can apply a
    write and then fail to answer: `lose_reply` applies the call and closes the connection without
    the answer, and `on_applied` (a callable) runs after the call is applied and before the answer
    goes back — a harness uses it to kill the client at that exact moment or to freeze it.

    `where`, when given, narrows the fault to the matching calls it accepts: a predicate on the
    whole request, for calls the line cannot tell apart (a Salesforce composite request that writes
    rather than reads, the kind of item an EWS CreateItem carries).
    """

    match: str = ".*"
    response: Response | None = None
    drop: bool = False
    latency: float = 0.0
    times: int = 1
    nth: int | None = None
    lose_reply: bool = False
    on_applied: Callable[[], None] | None = None
    where: Callable[[Request], bool] | None = None
    seen: int = 0
    fired: int = 0

    def applies(self, line: str, request: Request | None = None) -> bool:
        if not re.search(self.match, line):
            return False
        if self.where is not None and (request is None or not self.where(request)):
            return False
        self.seen += 1
        if self.nth is not None:
            hit = self.seen == self.nth
        else:
            hit = self.fired < self.times
        if hit:
            self.fired += 1
        return hit


class FaultPlan:
    """The faults waiting to fire, shared by the server threads."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __bool__(self) -> bool:
        """Whether any fault was planned (read without the lock: a list's truth is atomic)."""
        return bool(self._faults)

    def take(self, line: str, request: Request | None = None) -> Fault | None:
        """The first fault that fires for this call, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.applies(line, request):
                    return fault
        return None


class _DroppedConnection(Exception):
    pass


class _Server(ThreadingHTTPServer):
    """The standard threading server, quiet about clients that went away mid-answer."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed or timed out while its answer was being written (a SIGKILLed worker
        # in the fleet benchmark) is the client's business; anything else is still printed.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            return
        super().handle_error(request, client_address)


class EmulatorServer:
    """Serve an emulator on 127.0.0.1 in a background thread.

    `tls` is an `ssl.SSLContext` for HTTPS (see `make_tls`) or None for plain HTTP. `calls` counts
    answered calls per route name; `faults` injects failures; `log` keeps (method, path) of every call.
    """

    def __init__(self, emulator: Emulator, *, tls: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.emulator = emulator
        self.faults = FaultPlan()
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []
        self.sleep: Callable[[float], None] = time.sleep
        self._lock = threading.Lock()
        self._tls = tls
        self._httpd = _Server(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> EmulatorServer:
        # A short poll interval lets stop() return within 50 ms: tests start many emulators.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def total_calls(self, prefix: str = "") -> int:
        """Calls answered so far, all routes or those whose name starts with `prefix`."""
        with self._lock:
            return sum(n for name, n in self.calls.items() if name.startswith(prefix))

    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()
            self.log.clear()

    def dispatch(self, request: Request) -> Response:
        """Count, fault-inject and answer one request (also used for the inner calls of a batch)."""
        name = self.emulator.route_name(request)
        with self._lock:
            self.calls[name] += 1
            self.log.append((request.method, request.path))
        fault = None
        # Working out the line faults match against can mean reading the whole body (which
        # sObject types a Composite request writes): only done when a fault is planned.
        if self.faults:
            # Emulators whose operations share one URL (EWS posts every SOAP operation to the same
            # path) may add the operation to what faults are matched against.
            fault_line = getattr(self.emulator, "fault_line", None)
            line = fault_line(request, name) if fault_line else f"{request.method} {request.path}"
            fault = self.faults.take(line, request)
        if fault is not None:
            if fault.latency:
                self.sleep(fault.latency)
            if fault.drop:
                raise _DroppedConnection
            if fault.response is not None:
                return fault.response
        response = self.emulator.handle(request)
        if fault is not None:
            if fault.on_applied is not None:
                fault.on_applied()
            if fault.lose_reply:
                raise _DroppedConnection
        return response

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without TCP_NODELAY the second waits ~40 ms
            # for the client's delayed ACK on every keep-alive call.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read counters, not logs
                return

            def parse_request(self) -> bool:
                # The standard library reads every request's headers with the `email` parser,
                # a good part of a small call's cost. An HTTP/1.1 request whose header lines are
                # all plain `Name: value` is read here instead, to the same headers; any other
                # request (another version, folded or malformed lines) goes the standard way.
                raw: bytes = self.raw_requestline  # type: ignore[attr-defined]  # set by handle_one_request
                words = str(raw, "iso-8859-1").rstrip("\r\n").split()
                if len(words) != 3 or words[2] != "HTTP/1.1" or words[1].startswith("//"):
                    return bool(super().parse_request())
                self.requestline = " ".join(words)
                self.command, self.path, self.request_version = words
                headers = _read_plain_headers(self.rfile, self.MessageClass)
                if isinstance(headers, str):
                    self.send_error(431, headers)
                    return False
                self.headers = headers
                self.close_connection = str(headers.get("Connection", "")).lower() == "close"
                expect = str(headers.get("Expect", "")).lower()
                return not (expect == "100-continue" and not self.handle_expect_100())

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                try:
                    response = server.dispatch(request)
                except _DroppedConnection:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                except Exception as exc:  # an emulator bug must show as a 500, not hang the client
                    response = Response(500, {"error": f"emulator error: {type(exc).__name__}: {exc}"})
                payload = response.encoded()
                self.send_response(response.status)
                if payload or response.status not in (204, 304):
                    self.send_header("Content-Type", response.content_type)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload and self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

        return Handler


_MAX_HEADER_LINE = 65536
_MAX_HEADERS = 100
_PLAIN_HEADER = re.compile(r"^([!-9;-~]+):[ \t]*(.*?)\r?\n$", re.S)


def _read_plain_headers(rfile: Any, message_class: type[Message]) -> Message | str:
    """The header block of a request as `http.client.parse_headers` gives it, or why it is
    refused with a 431 (a line too long, too many lines)."""
    lines: list[bytes] = []
    while True:
        line = rfile.readline(_MAX_HEADER_LINE + 1)
        if len(line) > _MAX_HEADER_LINE:
            return "Line too long"
        if line in (b"\r\n", b"\n", b""):
            break
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            return "Too many headers"
    texts = [line.decode("iso-8859-1") for line in lines]
    matches = [_PLAIN_HEADER.match(text) for text in texts]
    if all(matches):
        message = message_class()
        for match in matches:
            assert match is not None
            message[match.group(1)] = match.group(2)
        return message
    # Folded or unusual lines: the email parser, as the standard library does.
    return email.parser.Parser(_class=message_class).parsestr("".join(texts) + "\r\n")


@dataclass(frozen=True)
class TlsFiles:
    """A throw-away CA for loopback HTTPS: clients trust `ca_file`; the server uses `context`."""

    ca_file: Path
    context: ssl.SSLContext


def make_tls(directory: Path) -> TlsFiles:
    """Create a CA and a certificate for 127.0.0.1/localhost; write the CA's PEM into `directory`."""
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = directory / "sandbox-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    return TlsFiles(ca_file=ca_file, context=context)
