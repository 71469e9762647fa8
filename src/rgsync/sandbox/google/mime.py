"""Reading stored RFC 822 bytes the way Gmail presents them: the `payload` part tree of format=full,
the headers of format=metadata, the `snippet`, and the text the search query looks at.
"""

from __future__ import annotations

import base64
import email
import email.message
import html
import re
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import getaddresses
from typing import Any

from rgsync.sandbox.google.common import b64url

SNIPPET_LENGTH = 200


def parse(raw: bytes) -> email.message.Message:
    """The message tree of raw RFC 822 bytes (lenient: real-world mail is often slightly broken)."""
    return email.message_from_bytes(raw)


def decode_value(value: str) -> str:
    """A header value unfolded and with RFC 2047 encoded words decoded, as Gmail shows headers."""
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", str(value))
    if "=?" not in unfolded:
        return unfolded
    try:
        return str(make_header(decode_header(unfolded)))
    except (LookupError, UnicodeDecodeError, ValueError, HeaderParseError):
        # An unknown charset or a broken encoded word (bad base64): Gmail delivers the message and
        # shows such a header as it came, so the emulator must too.
        return unfolded


def header_list(part: email.message.Message) -> list[dict[str, str]]:
    """The part's headers in order as [{name, value}] with decoded values."""
    return [{"name": name, "value": decode_value(value)} for name, value in part.items()]


def header(message: email.message.Message, name: str) -> str:
    """One decoded header value ('' when absent)."""
    value = message.get(name)
    return decode_value(value) if value is not None else ""


def addresses(message: email.message.Message, *names: str) -> list[str]:
    """Lower-cased addresses found in the given address headers."""
    values = [decode_value(v) for name in names for v in message.get_all(name, [])]
    return [address.lower() for _, address in getaddresses(values) if address]


def is_attachment(part: email.message.Message) -> bool:
    """Gmail hands a part out by attachmentId when it has a file name or says 'attachment'."""
    if part.get_filename():
        return True
    return (part.get_content_disposition() or "") == "attachment"


def attachment_id(message_id: str, part_id: str) -> str:
    """A stable attachment id naming the message and the part."""
    token = base64.urlsafe_b64encode(f"{message_id}:{part_id}".encode()).decode("ascii").rstrip("=")
    return "ANGjdJ" + token


def leaf_bytes(part: email.message.Message) -> bytes:
    """A leaf part's content with its transfer encoding undone (charset untouched)."""
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], email.message.Message):
            return inner[0].as_bytes()
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def payload_tree(message_id: str, part: email.message.Message, part_id: str = "") -> dict[str, Any]:
    """The format=full `payload`: partId, mimeType, filename, headers, body{size,data|attachmentId}, parts."""
    node: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": decode_value(part.get_filename() or ""),
        "headers": header_list(part),
    }
    if part.is_multipart() and part.get_content_type() != "message/rfc822":
        node["body"] = {"size": 0}
        children = part.get_payload()
        node["parts"] = [
            payload_tree(message_id, child, f"{part_id}.{index}" if part_id else str(index))
            for index, child in enumerate(children if isinstance(children, list) else [])
        ]
        return node
    data = leaf_bytes(part)
    if is_attachment(part) or part.get_content_type() == "message/rfc822":
        node["body"] = {"attachmentId": attachment_id(message_id, part_id), "size": len(data)}
    elif data:
        node["body"] = {"size": len(data), "data": b64url(data)}
    else:
        node["body"] = {"size": 0}
    return node


def find_part(message: email.message.Message, part_id: str) -> email.message.Message | None:
    """The part at a Gmail partId ('' is the message itself, '1.0' the first child of the second)."""
    current = message
    if part_id == "":
        return current
    for piece in part_id.split("."):
        children = current.get_payload()
        if not current.is_multipart() or not isinstance(children, list):
            return None
        index = int(piece)
        child = children[index] if index < len(children) else None
        if not isinstance(child, email.message.Message):
            return None
        current = child
    return current


def _text_of(part: email.message.Message) -> str:
    data = leaf_bytes(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def body_text(message: email.message.Message) -> str:
    """The readable text of a message: its first text/plain part, or its first text/html stripped."""
    plain: str | None = None
    markup: str | None = None
    for part in message.walk():
        if part.is_multipart() or is_attachment(part):
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _text_of(part)
        elif kind == "text/html" and markup is None:
            markup = _text_of(part)
    if plain is not None:
        return plain
    if markup is not None:
        without_tags = re.sub(r"(?is)<(script|style).*?</\1>|<[^>]+>", " ", markup)
        return html.unescape(without_tags)
    return ""


def snippet(message: email.message.Message) -> str:
    """Gmail's `snippet`: the start of the body text, whitespace collapsed, HTML-escaped."""
    return snippet_of(body_text(message))


def snippet_of(body: str) -> str:
    """The snippet of an already extracted body text (see `snippet`)."""
    text = " ".join(body.split())[:SNIPPET_LENGTH]
    return html.escape(text, quote=True).replace("&#x27;", "&#39;")
