"""SOAP plumbing of the EWS emulator: namespaces, envelopes, response messages and faults.

Exchange answers every operation with the same frame: an envelope whose header carries
`ServerVersionInfo` and whose body holds `m:{Operation}Response/m:ResponseMessages`, one
`m:{Operation}ResponseMessage` per requested item or folder, each with a `ResponseClass`
(Success / Warning / Error) and a `ResponseCode` (NoError, ErrorItemNotFound, …). Server-wide
trouble (throttling, a malformed request) comes as an HTTP 500 `s:Fault` instead.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from rgsync.sandbox.http import Response

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
E_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"
NSMAP = {"s": SOAP_NS, "m": M_NS, "t": T_NS}

SERVER_VERSION = {
    "MajorVersion": "15",
    "MinorVersion": "1",
    "MajorBuildNumber": "2507",
    "MinorBuildNumber": "6",
    "Version": "V2017_07_11",
}

_OPERATION = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([A-Za-z]+)")


class SchemaError(Exception):
    """The request violates the EWS schema: answered with an ErrorSchemaValidation fault."""


def t(name: str) -> str:
    """Clark name of a types-namespace element."""
    return f"{{{T_NS}}}{name}"


def m(name: str) -> str:
    """Clark name of a messages-namespace element."""
    return f"{{{M_NS}}}{name}"


def local(tag: str) -> str:
    """The local part of a Clark name."""
    return tag.rpartition("}")[2]


def sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    """Append a child element (Clark `tag`) with optional text and attributes; returns it."""
    child = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        child.text = text
    return child


def operation_of(body: bytes) -> str:
    """The SOAP operation a request calls (the first element inside s:Body), or 'unknown'."""
    found = _OPERATION.search(body[:4096])
    return found.group(1).decode("ascii") if found else "unknown"


def parse_request(body: bytes) -> tuple[Any, Any]:
    """(SOAP header element or None, the operation element) of a request; ValueError when malformed."""
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the request is not well-formed XML: {exc}") from exc
    envelope_body = root.find(f"{{{SOAP_NS}}}Body")
    if envelope_body is None or len(envelope_body) == 0:
        raise ValueError("the request has no SOAP body")
    return root.find(f"{{{SOAP_NS}}}Header"), envelope_body[0]


def envelope(operation: str, messages: list[Any]) -> Response:
    """A successful HTTP 200 answer carrying `messages` (built with `message`) for `operation`."""
    root = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap=NSMAP)
    header = sub(root, f"{{{SOAP_NS}}}Header")
    sub(header, t("ServerVersionInfo"), **SERVER_VERSION)
    body = sub(root, f"{{{SOAP_NS}}}Body")
    response = sub(body, m(f"{operation}Response"))
    container = sub(response, m("ResponseMessages"))
    for message_elem in messages:
        container.append(message_elem)
    return xml_response(root)


def message(operation: str, code: str = "NoError", text: str = "") -> Any:
    """One `m:{operation}ResponseMessage`: Success/NoError, or Error with `code` and `text`."""
    elem = etree.Element(m(f"{operation}ResponseMessage"), nsmap=NSMAP)
    if code == "NoError":
        elem.set("ResponseClass", "Success")
    else:
        elem.set("ResponseClass", "Error")
        sub(elem, m("MessageText"), text or code)
    sub(elem, m("ResponseCode"), code)
    if code != "NoError":
        sub(elem, m("DescriptiveLinkKey"), "0")
    return elem


def xml_response(root: Any, status: int = 200) -> Response:
    """Serialise an element tree as the HTTP answer."""
    payload = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return Response(status=status, body=payload, content_type="text/xml; charset=utf-8")


def fault(code: str, text: str, *, back_off_ms: int | None = None, status: int = 500) -> Response:
    """An HTTP 500 SOAP fault, as Exchange sends for ErrorServerBusy or a schema violation.

    `back_off_ms` adds the `MessageXml/Value Name="BackOffMilliseconds"` throttling hint.
    """
    root = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap=NSMAP)
    body = sub(root, f"{{{SOAP_NS}}}Body")
    fault_elem = sub(body, f"{{{SOAP_NS}}}Fault")
    code_elem = etree.SubElement(fault_elem, "faultcode", nsmap={"a": T_NS})
    code_elem.text = f"a:{code}"
    string_elem = sub(fault_elem, "faultstring", text)
    string_elem.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    detail = sub(fault_elem, "detail")
    etree.SubElement(detail, f"{{{E_NS}}}ResponseCode", nsmap={"e": E_NS}).text = code
    etree.SubElement(detail, f"{{{E_NS}}}Message", nsmap={"e": E_NS}).text = text
    if back_off_ms is not None:
        xml = sub(detail, t("MessageXml"))
        sub(xml, t("Value"), str(back_off_ms), Name="BackOffMilliseconds")
    return xml_response(root, status=status)


def server_busy(back_off_ms: int | None = 500) -> Response:
    """The throttling answer: ErrorServerBusy with an optional BackOffMilliseconds hint."""
    return fault(
        "ErrorServerBusy",
        "The server cannot service this request right now. Try again later.",
        back_off_ms=back_off_ms,
    )


# --- values ---------------------------------------------------------------------------------------


def format_datetime(value: datetime) -> str:
    """EWS dateTime text: UTC with a trailing Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime:
    """An xs:dateTime (with Z or an offset; naive text is read as UTC) as an aware datetime."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_date(text: str) -> date:
    """An xs:date, possibly with a zone suffix (which EWS sends on recurrence dates)."""
    value = text.strip()
    return date.fromisoformat(value[:10])


def format_bool(value: bool) -> str:
    """xs:boolean text."""
    return "true" if value else "false"
