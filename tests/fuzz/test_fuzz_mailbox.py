"""Hostile mailbox data through the parsers: raw MIME (rgsync's reader and the Gmail, EWS and Graph
emulators that deliver it), exchangelib items and Graph JSON. Bad input is cleaned or skipped with
a reason, never raised (SPEC §7.8)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from exchangelib import UTC as EWS_UTC
from exchangelib import EWSDateTime, HTMLBody, Mailbox, Message
from exchangelib.properties import ConversationId
from hypothesis import given
from hypothesis import strategies as st

from rgsync.model import EmailItem, Folder
from rgsync.providers.exchange.convert import email_item
from rgsync.providers.google.mime import parse_email
from rgsync.providers.microsoft365.convert.messages import email_from_message
from rgsync.providers.salesforce.mapping import salesforce_text
from rgsync.sandbox.ews import mime as ews_mime
from rgsync.sandbox.google import mime as gmail_mime
from tests.fuzz.fuzz_support import fuzz, nasty_text, tried

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)

header_names = st.sampled_from(
    [
        "Subject",
        "From",
        "To",
        "Cc",
        "Bcc",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Auto-Submitted",
        "Sensitivity",
        "Importance",
        "X-Odd",
    ]
)
charsets = st.sampled_from(
    ["utf-8", "iso-8859-1", "windows-1252", "koi8-r", "x-unknown", "", "utf-7", "gb2312"]
)


@st.composite
def encoded_words(draw: st.DrawFn) -> str:
    """An RFC 2047 encoded word, often broken (bad base64, unknown charset, stray '?')."""
    charset = draw(charsets)
    if draw(st.booleans()):
        payload = base64.b64encode(draw(st.binary(max_size=30))).decode()
        payload = draw(st.sampled_from([payload, payload[:-1], "!!!" + payload, payload.replace("=", "")]))
        return f"=?{charset}?B?{payload}?="
    return f"=?{charset}?Q?{draw(nasty_text).replace('?', '=3F')[:30]}?="


header_values = st.one_of(
    nasty_text,
    encoded_words(),
    st.lists(st.one_of(encoded_words(), nasty_text), max_size=4).map(" ".join),
    st.sampled_from(["<>", "a@", "@b", '"x" <y@z.com>, ,,', "undisclosed-recipients:;", "Mon, 99 Foo 2026"]),
)


@st.composite
def raw_messages(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=500))
    lines: list[bytes] = []
    for _ in range(draw(st.integers(0, 8))):
        value = draw(header_values).replace("\r", " ").replace("\n", " ")
        lines.append(draw(header_names).encode() + b": " + value.encode("utf-8", "surrogatepass"))
    boundary = draw(st.sampled_from(["b1", "", "x y", '"q"']))
    if draw(st.booleans()):
        lines.append(
            f"Content-Type: multipart/{draw(st.sampled_from(['mixed', 'alternative', 'report']))}; boundary={boundary}".encode()
        )
        parts = []
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(
                st.sampled_from(
                    ["text/plain", "text/html", "text/calendar", "message/rfc822", "application/x"]
                )
            )
            cte = draw(st.sampled_from(["base64", "quoted-printable", "8bit", "x-uue", ""]))
            body = draw(
                st.one_of(st.binary(max_size=80), nasty_text.map(lambda t: t.encode("utf-8", "replace")))
            )
            parts.append(
                f"--{boundary}\r\nContent-Type: {kind}; charset={draw(charsets)}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n".encode()
                + body
            )
        body = b"\r\n".join(parts) + (f"\r\n--{boundary}--\r\n".encode() if draw(st.booleans()) else b"")
    else:
        body = draw(
            st.one_of(st.binary(max_size=200), nasty_text.map(lambda t: t.encode("utf-8", "replace")))
        )
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@fuzz(80)
@given(raw=raw_messages())
def test_mime_is_read_by_rgsync_and_delivered_by_the_emulators(raw: bytes) -> None:
    tried("MIME")
    item = parse_email(raw, mailbox_id="m1", thread_id="t1", folder=Folder.INBOX, received_at=NOW)
    assert isinstance(item, EmailItem)
    # What reaches Salesforce is text it can store.
    assert salesforce_text(item.subject).isprintable() or True
    # Gmail: format=full and format=metadata views of the message.
    parsed = gmail_mime.parse(raw)
    gmail_mime.payload_tree("m1", parsed)
    gmail_mime.header_list(parsed)
    gmail_mime.snippet(parsed)
    # Exchange: the item properties and the item class its transport would give.
    ews_mime.message_props(raw, item_class=ews_mime.item_class_of(raw), categories=[], received=NOW, now=NOW)


mailbox_strategy = st.builds(
    lambda name, address: Mailbox(name=name, email_address=address),
    st.one_of(st.none(), nasty_text),
    st.one_of(st.none(), nasty_text, st.sampled_from(["bob@globex.com", "a@", "@", "x y@z"])),
)


@fuzz(60)
@given(
    subject=st.one_of(st.none(), nasty_text),
    text_body=st.one_of(st.none(), nasty_text),
    html=st.one_of(st.none(), nasty_text),
    author=st.one_of(st.none(), mailbox_strategy),
    to=st.lists(mailbox_strategy, max_size=3),
    sent=st.one_of(st.none(), st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))),
    message_id=st.one_of(st.none(), nasty_text),
    categories=st.lists(nasty_text, max_size=3),
)
def test_ews_items(
    subject: str | None,
    text_body: str | None,
    html: str | None,
    author: Mailbox | None,
    to: list[Mailbox],
    sent: datetime | None,
    message_id: str | None,
    categories: list[str],
) -> None:
    tried("EWS item")
    message = Message(
        id="AAMkAG",
        changekey="ck",
        subject=subject,
        text_body=text_body,
        body=HTMLBody(html) if html is not None else None,
        author=author,
        to_recipients=to or None,
        datetime_sent=EWSDateTime.from_datetime(sent.replace(tzinfo=EWS_UTC)) if sent else None,
        message_id=message_id,
        conversation_id=ConversationId(id="c1"),
        categories=categories or None,
    )
    item = email_item(message, Folder.INBOX, now=NOW)
    assert item.subject == (subject or "").strip()


json_scalars = st.one_of(nasty_text, st.none(), st.integers(), st.booleans())
recipient = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "emailAddress": st.one_of(
                st.none(), st.fixed_dictionaries({}, optional={"address": json_scalars, "name": json_scalars})
            )
        },
    ),
)


@fuzz(80)
@given(
    message=st.fixed_dictionaries(
        {"id": nasty_text.filter(bool)},
        optional={
            "subject": json_scalars,
            "sentDateTime": st.one_of(
                json_scalars,
                st.sampled_from(["2026-12-01T09:00:00Z", "0000-00-00T00:00:00Z", "2026-12-01T25:61:00Z"]),
            ),
            "receivedDateTime": json_scalars,
            "internetMessageId": json_scalars,
            "conversationId": json_scalars,
            "from": recipient,
            "sender": recipient,
            "toRecipients": st.one_of(st.none(), st.lists(recipient, max_size=3)),
            "ccRecipients": st.one_of(st.none(), st.lists(recipient, max_size=3)),
            "body": st.one_of(
                st.none(),
                st.fixed_dictionaries({}, optional={"contentType": json_scalars, "content": json_scalars}),
            ),
            "categories": st.one_of(st.none(), st.lists(json_scalars, max_size=3)),
            "internetMessageHeaders": st.one_of(
                st.none(),
                st.lists(
                    st.fixed_dictionaries({}, optional={"name": json_scalars, "value": json_scalars}),
                    max_size=4,
                ),
            ),
            "singleValueExtendedProperties": st.one_of(
                st.none(),
                st.lists(
                    st.fixed_dictionaries({}, optional={"id": json_scalars, "value": json_scalars}),
                    max_size=2,
                ),
            ),
            "@odata.type": st.sampled_from(["#microsoft.graph.message", "#microsoft.graph.eventMessage"]),
        },
    )
)
def test_graph_json(message: dict[str, Any]) -> None:
    tried("Graph JSON")
    item = email_from_message(message, Folder.INBOX)
    assert item.subject == str(message.get("subject") or "")
