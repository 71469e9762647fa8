"""Google's batch endpoints: a multipart/mixed POST whose parts are whole HTTP requests
(application/http), answered by a multipart/mixed response whose parts are whole HTTP responses.

The wire format is what googleapiclient.http.BatchHttpRequest sends and parses: each request part has
`Content-ID: <uuid + N>` and each response part echoes it as `<response-uuid + N>`; the inner response's
status line and headers end with CRLF CRLF, which the client splits on. Headers of the outer request
(other than Content-*) apply to every inner request unless the part sets its own, as Google documents.
"""

from __future__ import annotations

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
    data = payload if isinstance(payload, bytes) else b""
    request_line, _, rest = data.lstrip(b"\r\n").partition(b"\n")
    pieces = request_line.decode("latin-1").strip().split(" ")
    if len(pieces) < 2:
        raise bad_request("Failed to parse batch request, error: malformed request line.")
    method, target = pieces[0].upper(), pieces[1]
    inner = BytesParser().parsebytes(rest)
    body = inner.get_payload(decode=True)
    body_bytes = body if isinstance(body, bytes) else b""
    length = inner.get("content-length")
    if length and length.strip().isdigit():
        body_bytes = body_bytes[: int(length)]
    elif not body_bytes.strip():
        body_bytes = b""
    headers = {k.lower(): v for k, v in outer.headers.items() if not k.lower().startswith("content-")}
    headers.update({k.lower(): str(v) for k, v in inner.items() if k.lower() not in ("host", "mime-version")})
    parts = urlsplit(target)
    return Request(
        method=method,
        path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=headers,
        body=body_bytes,
    )


def handle_batch(request: Request, dispatch: Callable[[Request], Response]) -> Response:
    """Answer a batch request, sending each inner request through `dispatch` (which counts it and
    applies faults on its own path). Gmail batches over 100 calls are refused whole, with a 400."""
    content_type = request.header("content-type")
    if not content_type.lower().startswith("multipart/mixed"):
        raise bad_request("Failed to parse batch request, error: Content-Type must be multipart/mixed.")
    message = BytesParser().parsebytes(_header_bytes(content_type) + request.body)
    parts = message.get_payload()
    if not message.is_multipart() or not isinstance(parts, list) or not parts:
        raise bad_request("Failed to parse batch request, error: no parts.")
    inner = [
        (part.get("Content-ID"), _part_request(part, request)) for part in parts if isinstance(part, Message)
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
