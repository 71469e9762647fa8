"""The emulators' cheaper paths answer exactly as the paths they replace.

The emulators copy stored records without `copy.deepcopy`, share unchanged elements between an
EWS item and its edited copy, read plain Google batches without the `email` package, and keep
each Salesforce type's save metadata between saves. A failed change must still leave nothing
behind (SPEC §7: never lose, never duplicate) and every refusal must stay as it was.
"""

from __future__ import annotations

import base64
import http.client
import io
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import Generator
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.parser import BytesParser

import httplib2
import pytest

from rgsync.sandbox import http as http_plumbing
from rgsync.sandbox.copying import deep_copy
from rgsync.sandbox.ews import RunningEws, start_ews
from rgsync.sandbox.google import batch, start_google
from rgsync.sandbox.http import Request
from rgsync.sandbox.salesforce import soql
from rgsync.sandbox.salesforce.errors import RecordError
from rgsync.sandbox.salesforce.store import Org
from tests.sandbox.ews_soap import get_item, post, uri

NOW = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)


@dataclass
class _Record:
    name: str
    tags: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)


def test_a_copied_record_shares_nothing_that_can_change() -> None:
    original = _Record("a", ["x"], {"nested": [{"k": "v"}], "when": NOW, "pair": ("p", ["q"])})
    copied = deep_copy(original)
    copied.tags.append("y")
    copied.extra["nested"][0]["k"] = "changed"  # type: ignore[index]
    copied.extra["pair"][1].append("r")  # type: ignore[index]
    assert original == _Record("a", ["x"], {"nested": [{"k": "v"}], "when": NOW, "pair": ("p", ["q"])})
    assert copied.extra["when"] is NOW  # immutable leaves are shared, not copied


# -- EWS: an UpdateItem that fails leaves the item as it was ----------------------------------------


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    running = start_ews(clock=lambda: NOW)
    try:
        yield running
    finally:
        running.stop()


def _update(ews: RunningEws, item_id: str, updates: str) -> list[tuple[str, str]]:
    return post(
        ews,
        '<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges>'
        f'<t:ItemChange><t:ItemId Id="{item_id}"/><t:Updates>{updates}</t:Updates></t:ItemChange>'
        "</m:ItemChanges></m:UpdateItem>",
    ).messages()


def test_a_failed_ews_update_keeps_the_body_and_addresses_it_edited_in_place(ews: RunningEws) -> None:
    """SPEC §7: an UpdateItem refused half-way (a read-only property after an append and an
    address merge) changes nothing, although the edits before the refusal work in place."""
    contact = ews.state.add_contact(
        {"given_name": "Bob", "emails": ["bob@globex.com"], "body": "Met at expo"}
    )
    changekey = ews.state.items[contact].changekey
    append = (
        f"<t:AppendToItemField>{uri('item:Body')}"
        '<t:Contact><t:Body BodyType="Text"> - call back</t:Body></t:Contact></t:AppendToItemField>'
    )
    address = (
        '<t:SetItemField><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress1"/>'
        '<t:Contact><t:EmailAddresses><t:Entry Key="EmailAddress1">bob@new.example</t:Entry>'
        "</t:EmailAddresses></t:Contact></t:SetItemField>"
    )
    read_only = f"<t:SetItemField>{uri('item:DateTimeCreated')}<t:Contact><t:DateTimeCreated>2020-01-01T00:00:00Z</t:DateTimeCreated></t:Contact></t:SetItemField>"
    assert _update(ews, contact, append + address + read_only) == [("Error", "ErrorInvalidPropertySet")]

    def shown() -> tuple[str, str]:
        answer = post(ews, get_item([contact], uri("item:Body") + uri("contacts:EmailAddresses")))
        return answer.text("//t:Body"), answer.text("//t:EmailAddresses/t:Entry")

    assert shown() == ("Met at expo", "bob@globex.com")
    assert ews.state.items[contact].changekey == changekey
    assert _update(ews, contact, append + address) == [("Success", "NoError")]
    assert shown() == ("Met at expo - call back", "bob@new.example")


# -- Google batches ----------------------------------------------------------------------------------


def _client_batch(bodies: list[str]) -> tuple[bytes, str]:
    """A batch as googleapiclient writes it (LF line ends, binary parts, a JSON body each)."""
    message = MIMEMultipart("mixed")
    message._write_headers = lambda self: None  # type: ignore[attr-defined]
    for n, body in enumerate(bodies):
        part = MIMENonMultipart("application", "http")
        part["Content-Transfer-Encoding"] = "binary"
        part["Content-ID"] = f"<batch-id + {n}>"
        part.set_payload(
            f"POST /gmail/v1/users/me/messages/m{n}/modify?alt=json HTTP/1.1\n"
            "Content-Type: application/json\nMIME-Version: 1.0\nx-goog-api-client: gdcl/2\n"
            f"host: 127.0.0.1\ncontent-length: {len(body.encode())}\n\n{body}"
        )
        message.attach(part)
    out = io.StringIO()
    Generator(out, mangle_from_=False).flatten(message, unixfrom=False)
    return out.getvalue().encode("utf-8"), f'multipart/mixed; boundary="{message.get_boundary()}"'


def _read_by_email_package(
    body: bytes, content_type: str, outer: Request
) -> list[tuple[str | None, Request]]:
    parsed = BytesParser().parsebytes(batch._header_bytes(content_type) + body)
    parts = parsed.get_payload()
    assert isinstance(parts, list)
    return [(part.get("Content-ID"), batch._part_request(part, outer)) for part in parts]


def test_a_plain_batch_is_read_as_the_email_package_reads_it() -> None:
    outer = Request("POST", "/batch/gmail/v1", {}, {"authorization": "Bearer t", "content-type": "x"})
    body, content_type = _client_batch(['{"addLabelIds": ["Label_1"]}', '{"name": "Zoë"}', ""])
    boundary = Message()
    boundary["Content-Type"] = content_type
    plain = batch._plain_parts(body, boundary.get_boundary() or "")
    assert plain is not None and len(plain) == 3
    quick = [(content_id, batch._inner_request(payload, outer)) for content_id, payload in plain]
    assert quick == _read_by_email_package(body, content_type, outer)
    assert (
        quick[1][1].body == '{"name": "Zoë"}'.encode() and quick[0][1].headers["authorization"] == "Bearer t"
    )


def test_a_batch_part_in_base64_still_reaches_its_call() -> None:
    """Parts the quick reading leaves alone (a transfer encoding) go through the email package."""
    google = start_google()
    try:
        inner = base64.b64encode(b"GET /gmail/v1/users/me/profile HTTP/1.1\r\n\r\n").decode()
        body = (
            "--XYZ\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-ID: <abc + 1>\r\n\r\n{inner}\r\n--XYZ--\r\n"
        )
        response, content = httplib2.Http().request(
            google.url + "/batch/gmail/v1",
            "POST",
            body=body,
            headers={
                "Content-Type": 'multipart/mixed; boundary="XYZ"',
                "Authorization": f"Bearer {google.token}",
            },
        )
        assert response.status == 200
        assert "HTTP/1.1 200 OK" in content.decode() and "emailAddress" in content.decode()
    finally:
        google.stop()


# -- Salesforce saves ----------------------------------------------------------------------------------


def test_a_unique_field_added_later_is_checked_on_the_next_save() -> None:
    """Each type's save metadata is kept between saves; adding a field must renew it."""
    org = Org()
    org.insert("Account", {"Name": "Acme"})
    org.add_custom_field("Account", "Ext_Id__c")
    org.insert("Account", {"Name": "Globex", "Ext_Id__c": "K-1"})
    with pytest.raises(RecordError) as refused:
        org.insert("Account", {"Name": "Initech", "Ext_Id__c": "k-1"})
    assert refused.value.errors[0].code == "DUPLICATE_VALUE"
    assert len(list(org.iter_rows("Account"))) == 2


def test_a_repeated_query_sees_the_rows_written_since_and_a_bad_one_is_refused_every_time() -> None:
    """Parsed statements are kept between runs; their answers are not."""
    org = Org()
    statement = "SELECT Name FROM Account WHERE Name LIKE 'Ac%' ORDER BY Name"
    org.insert("Account", {"Name": "Acme"})
    assert [r["Name"] for r in soql.run(org, statement).records] == ["Acme"]
    org.insert("Account", {"Name": "Acorn"})
    assert [r["Name"] for r in soql.run(org, statement).records] == ["Acme", "Acorn"]
    for _ in range(2):
        with pytest.raises(soql.QueryError):
            soql.run(org, "SELECT Name FROM Account WHERE")


# -- request headers -----------------------------------------------------------------------------


def test_request_headers_are_read_as_the_standard_library_reads_them() -> None:
    block = (
        b"Host: 127.0.0.1:8443\r\nAuthorization: Bearer abc \r\nX-Two: 1\r\nx-two: 2\r\n"
        b"Content-Type: application/json; charset=utf-8\r\nX-Empty:\r\nX-Latin: caf\xe9\r\n\r\n"
    )
    quick = http_plumbing._read_plain_headers(io.BytesIO(block), http.client.HTTPMessage)
    standard = http.client.parse_headers(io.BytesIO(block))
    assert isinstance(quick, Message)
    assert quick.items() == standard.items() and quick.get_all("x-two") == ["1", "2"]


def test_folded_headers_and_connection_close_still_work_over_the_wire() -> None:
    """Requests the quick header reading leaves alone (a folded header line) are still answered,
    and `Connection: close` still ends the connection after the answer."""
    google = start_google()
    try:
        port = int(google.url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(
                b"GET /gmail/v1/users/me/profile HTTP/1.1\r\nHost: x\r\nX-Note: folded\r\n onto two lines\r\n"
                b"Authorization: Bearer " + google.token.encode() + b"\r\nConnection: close\r\n\r\n"
            )
            answer = b""
            while chunk := conn.recv(65536):  # the server closes after answering
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and b"emailAddress" in answer
    finally:
        google.stop()
