"""Google's batch endpoints: a multipart/mixed POST whose parts are whole HTTP requests
(application/http), answered by a multipart/mixed response whose parts are whole HTTP responses.

The wire format is what googleapiclient.http.BatchHttpRequest sends and parses: each request part has
`Content-ID: <uuid + N>` and each response part echoes it as `<response-uuid + N>`; the inner response's
status line and headers end with CRLF CRLF, which the client splits on. Headers of the outer request
(other than Content-*) apply to every inner request unless the part sets its own, as Google documents.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from email.message import Message
from email.parser import BytesParser
from urllib.parse import parse_qs, urlsplit

from rgsync.sandbox.google.common import GoogleApiError, bad_request, reason_phrase
from rgsync.sandbox.http import Request, Response

# The batch endpoints and the API each one serves (None: the shared /batch endpoint).
BATCH_PATHS: dict[str, str | None] = {
    "/batch": None,
    "/batch/gmail/v1": "gmail",
    "/batch/calendar/v3": "calendar",
    "/batch/tasks/v1": "tasks",
    "/batch/people/v1": "people",
}
GMAIL_BATCH_LIMIT = 100  # "You're limited to 100 calls in a single batch request."
DEFAULT_BATCH_LIMIT = 1000


def is_batch(request: Request) -> bool:
    """Whether the request is for one of the batch endpoints."""
    return request.method == "POST" and request.path.rstrip("/") in BATCH_PATHS


def _header_bytes(content_type: str) -> bytes:
    return b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"


def _part_request(part: Message, outer: Request) -> Request:
    payload = part.get_payload(decode=True)
    return _inner_request(payload if isinstance(payload, bytes) else b"", outer)


def _inner_request(data: bytes, outer: Request) -> Request:
    """The HTTP request a part carries (its request line, headers and body)."""
    request_line, _, rest = data.lstrip(b"\r\n").partition(b"\n")
    pieces = request_line.decode("latin-1").strip().split(" ")
    if len(pieces) < 2:
        raise bad_request("Failed to parse batch request, error: malformed request line.")
    method, target = pieces[0].upper(), pieces[1]
    parsed = _plain_message(rest)
    if parsed is not None:
        fields, body_bytes = parsed
        length = next((v for k, v in fields if k.lower() == "content-length"), None)
    else:
        inner = BytesParser().parsebytes(rest)
        body = inner.get_payload(decode=True)
        body_bytes = body if isinstance(body, bytes) else b""
        fields = [(k, str(v)) for k, v in inner.items()]
        length = inner.get("content-length")
    if length and length.strip().isdigit():
        body_bytes = body_bytes[: int(length)]
    elif not body_bytes.strip():
        body_bytes = b""
    headers = {k.lower(): v for k, v in outer.headers.items() if not k.lower().startswith("content-")}
    headers.update({k.lower(): v for k, v in fields if k.lower() not in ("host", "mime-version")})
    parts = urlsplit(target)
    return Request(
        method=method,
        path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=headers,
        body=body_bytes,
    )


# -- a quick reading of well-formed batches --------------------------------------------------------
# The `email` package reads a batch of 100 calls in about as long as the calls take to answer.
# What clients send is plain: ASCII header lines, a blank line, a body without any transfer
# encoding. Such messages are read directly below, with the results the `email` package gives
# them; anything else (folded or non-ASCII headers, encoded bodies, nested multiparts, a missing
# closing delimiter, lone CRs) returns None and goes through the `email` package as before.

_HEADER_LINE = re.compile(rb"^([\x21-\x39\x3b-\x7e]+):[ \t]*([\x20-\x7e\t]*?)\r?\n?$")
_PLAIN_ENCODINGS = ("", "7bit", "8bit", "binary")


def _plain_message(data: bytes) -> tuple[list[tuple[str, str]], bytes] | None:
    """(header fields, body) of a plain message, or None when it needs the `email` package."""
    if b"\r" in data.replace(b"\r\n", b""):
        return None
    fields: list[tuple[str, str]] = []
    position = 0
    while True:
        end = data.find(b"\n", position)
        line = data[position:] if end < 0 else data[position : end + 1]
        if line in (b"\n", b"\r\n"):
            body = data[end + 1 :]
            break
        if not line or end < 0:
            return None  # headers without a blank line after them
        match = _HEADER_LINE.match(line)
        if match is None or line.startswith(b"From "):
            return None
        fields.append((match.group(1).decode("ascii"), match.group(2).decode("ascii")))
        position = end + 1
    for name, value in fields:
        lowered = name.lower()
        if lowered == "content-transfer-encoding" and value.strip().lower() not in _PLAIN_ENCODINGS:
            return None
        if lowered == "content-type" and value.strip().lower().startswith(("multipart/", "message/")):
            return None
    return fields, body


def _plain_parts(body: bytes, boundary: str) -> list[tuple[str | None, bytes]] | None:
    """(Content-ID, payload) of each part of a plain multipart body, or None (see above)."""
    if b"\r" in body.replace(b"\r\n", b""):
        return None
    try:
        separator = b"--" + boundary.encode("ascii")
    except UnicodeEncodeError:
        return None
    delimiter = re.compile(rb"(?m)^" + re.escape(separator) + rb"(--)?[ \t]*(?:(\r\n|\n)|\Z)")
    found = list(delimiter.finditer(body))
    if not found or found[-1].group(1) is None or any(m.group(1) for m in found[:-1]):
        return None
    parts: list[tuple[str | None, bytes]] = []
    for opening, closing in itertools.pairwise(found):
        if opening.group(2) is None:
            return None
        chunk = body[opening.end() : closing.start()]
        # The line break before a delimiter belongs to the delimiter.
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        parsed = _plain_message(chunk)
        if parsed is None:
            return None
        fields, payload = parsed
        content_id = next((v for k, v in fields if k.lower() == "content-id"), None)
        parts.append((content_id, payload))
    return parts


def handle_batch(request: Request, dispatch: Callable[[Request], Response]) -> Response:
    """Answer a batch request, sending each inner request through `dispatch` (which counts it and
    applies faults on its own path). Gmail batches over 100 calls are refused whole, with a 400."""
    content_type = request.header("content-type")
    if not content_type.lower().startswith("multipart/mixed"):
        raise bad_request("Failed to parse batch request, error: Content-Type must be multipart/mixed.")
    outer = Message()
    outer["Content-Type"] = content_type
    boundary = outer.get_boundary()
    plain = _plain_parts(request.body, boundary) if boundary else None
    if plain:
        inner = [(content_id, _inner_request(payload, request)) for content_id, payload in plain]
    else:
        message = BytesParser().parsebytes(_header_bytes(content_type) + request.body)
        parts = message.get_payload()
        if not message.is_multipart() or not isinstance(parts, list) or not parts:
            raise bad_request("Failed to parse batch request, error: no parts.")
        inner = [
            (part.get("Content-ID"), _part_request(part, request))
            for part in parts
            if isinstance(part, Message)
        ]
    api = BATCH_PATHS[request.path.rstrip("/")]
    gmail = api == "gmail" or any(r.path.startswith("/gmail/") for _, r in inner)
    limit = GMAIL_BATCH_LIMIT if gmail else DEFAULT_BATCH_LIMIT
    if len(inner) > limit:
        raise GoogleApiError(
            400,
            "badRequest",
            f"Inner request count exceeds the limit. Received: {len(inner)}, Limit: {limit}",
        )
    boundary = f"batch_{uuid.uuid4().hex}"
    chunks: list[bytes] = []
    for content_id, inner_request in inner:
        answer = dispatch(inner_request)
        chunks.append(_response_part(boundary, content_id, answer))
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return Response(200, b"".join(chunks), content_type=f"multipart/mixed; boundary={boundary}")


def _response_part(boundary: str, content_id: str | None, answer: Response) -> bytes:
    payload = answer.encoded()
    head = [f"--{boundary}", "Content-Type: application/http"]
    if content_id:
        text = str(content_id).strip()
        head.append(f"Content-ID: <response-{text[1:-1] if text.startswith('<') else text}>")
    lines = [f"HTTP/1.1 {answer.status} {reason_phrase(answer.status)}"]
    if payload:
        lines.append(f"Content-Type: {answer.content_type}")
    for key, value in answer.headers.items():
        lines.append(f"{key}: {value}")
    lines.append(f"Content-Length: {len(payload)}")
    return (
        ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + payload + b"\r\n"
    )
