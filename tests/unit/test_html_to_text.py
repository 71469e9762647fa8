"""The plain text saved to Salesforce for an HTML email (SPEC §7.8: what was written reaches
Salesforce readable, nothing a reader never saw is added).

One converter serves every mailbox adapter and the Salesforce mapping; these cases pin each defect
the earlier hand-written converters had, and the shapes real mail clients send
(tests/data/html/, one `.txt` per `.html` with the text a reader should get).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from exchangelib import HTMLBody

from rgsync.model import Address, EmailItem, Folder
from rgsync.providers.exchange.convert import bodies_of
from rgsync.providers.google.mime import parse_email
from rgsync.providers.microsoft365.convert import body_text
from rgsync.providers.salesforce.mapping.emails import plain_body
from rgsync.providers.text import html_to_text

SENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "html"
NAMES = sorted(p.stem for p in SAMPLES.glob("*.html"))


def sample(name: str) -> str:
    return (SAMPLES / f"{name}.html").read_text(encoding="utf-8")


def expected(name: str) -> str:
    return (SAMPLES / f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")


@pytest.mark.parametrize("name", NAMES)
def test_spec_7_8_real_world_html_reads_as_a_person_would(name: str) -> None:
    assert html_to_text(sample(name)) == expected(name)


def test_the_samples_cover_every_client_shape() -> None:
    assert {"outlook-mso", "gmail-div", "marketing-table", "unclosed-script"} <= set(NAMES)


# --- one test per defect of the earlier converters ----------------------------------------------------


def test_text_after_a_gt_inside_a_comment_does_not_leak() -> None:
    text = html_to_text("<p>Signed.</p><!-- price > 100 was rejected --><p>Kickoff Monday.</p>")
    assert text == "Signed.\n\nKickoff Monday."


def test_text_after_a_gt_inside_an_attribute_does_not_leak() -> None:
    text = html_to_text('<p title="a > b">Ships next week.</p><img alt="revenue > target" src="c.png">')
    assert text == "Ships next week."


def test_outlook_conditional_comments_leave_no_text() -> None:
    markup = (
        "<p>Hello</p><!--[if mso]><table><tr><td>Outlook only</td></tr></table><![endif]-->"
        "<!--[if gte mso 9]><xml><o:OfficeDocumentSettings><o:AllowPNG/></o:OfficeDocumentSettings></xml><![endif]-->"
        "<p>Bye</p>"
    )
    assert html_to_text(markup) == "Hello\n\nBye"


def test_an_unclosed_script_leaves_no_code() -> None:
    text = html_to_text('<p>Confirm Thursday.</p><script>var token = "x"; if (a > b) { go(); }')
    assert text == "Confirm Thursday."


def test_styles_and_the_head_leave_no_text() -> None:
    markup = (
        "<html><head><title>Newsletter</title><style>td > p {color:red}</style></head><body>Hi</body></html>"
    )
    assert html_to_text(markup) == "Hi"


def test_a_hidden_preview_line_leaves_no_text() -> None:
    markup = '<div style="display:none;max-height:0">Preview only</div><p>Your order shipped.</p>'
    assert html_to_text(markup) == "Your order shipped."


def test_a_non_breaking_space_becomes_a_plain_space() -> None:
    assert html_to_text("<p>40&nbsp;seats&#160;at&nbsp;$5</p>") == "40 seats at $5"
    assert "\xa0" not in html_to_text(sample("outlook-mso"))


def test_table_cells_stay_apart() -> None:
    text = html_to_text("<table><tr><td>Qty</td><td>Price</td></tr><tr><td>2</td><td>$5</td></tr></table>")
    assert text.splitlines() == ["Qty  Price", "2    $5"]


def test_links_keep_their_target_as_text_then_target() -> None:
    text = html_to_text('<p>See <a href="https://x.example/a?b=1&amp;c=2">the <b>deck</b></a> today</p>')
    assert text == "See the deck <https://x.example/a?b=1&c=2> today"


def test_a_mail_link_shows_the_address_once() -> None:
    markup = '<a href="mailto:bob@globex.com">bob@globex.com</a>, <a href="mailto:bob@globex.com">Bob</a>'
    assert html_to_text(markup) == "bob@globex.com, Bob <bob@globex.com>"


def test_an_image_only_link_shows_its_target_and_other_schemes_show_nothing_extra() -> None:
    markup = '<a href="https://shop.example/"><img src="logo.png"></a> <a href="javascript:go()">Go</a>'
    assert html_to_text(markup) == "https://shop.example/ Go"


def test_plain_text_without_markup_is_kept_as_it_is() -> None:
    body = "Hi Ann,\n\n  indented line\nprice: 5 > 3"
    assert html_to_text(body) == body


def test_broken_or_empty_markup_never_raises() -> None:
    assert html_to_text("") == ""
    assert html_to_text("<!-- only a comment -->") == ""
    assert html_to_text('<?xml version="1.0" encoding="utf-8"?><p>x</p>') == "x"
    assert html_to_text("<p>One<p>Two</div></span><br/ <td>").split() == ["One", "Two"]
    assert html_to_text("<" * 10_000 + "&#xffffffff;") == "<" * 10_000 + "\ufffd"


def test_a_huge_body_is_converted_in_one_pass_without_blowing_up() -> None:
    markup = "<div>" + "<p>line &amp; more</p>" * 10_000 + "</div>"
    text = html_to_text(markup)
    assert text.startswith("line & more\n\nline & more") and "<" not in text


# --- every caller uses it ----------------------------------------------------------------------------


def _gmail(raw: bytes) -> EmailItem:
    return parse_email(raw, mailbox_id="m1", thread_id="t1", folder=Folder.INBOX, received_at=SENT)


def _html_only(markup: str) -> bytes:
    head = "From: bob@globex.com\r\nTo: ann@acme.com\r\nSubject: Hi\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    return (head + markup).encode()


def test_gmail_html_only_email_gets_the_shared_text() -> None:
    item = _gmail(_html_only(sample("marketing-table")))
    assert item.text_body == expected("marketing-table")


def test_gmail_prefers_the_senders_text_part() -> None:
    raw = (
        b"From: bob@globex.com\r\nTo: ann@acme.com\r\nSubject: Hi\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe sender's own words\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Rendered <b>words</b></p>\r\n--b--\r\n"
    )
    item = _gmail(raw)
    assert item.text_body.strip() == "The sender's own words"


class _EwsItem:
    def __init__(self, body: Any, text_body: str | None) -> None:
        self.body = body
        self.text_body = text_body


def test_exchange_item_without_a_text_body_gets_the_shared_text() -> None:
    text, html = bodies_of(_EwsItem(HTMLBody(sample("outlook-mso")), None))
    assert text == expected("outlook-mso") and html == sample("outlook-mso")


def test_exchange_keeps_its_own_text_body_when_it_sends_one() -> None:
    text, _ = bodies_of(_EwsItem(HTMLBody("<p>Hi</p>"), "Hi from Exchange"))
    assert text == "Hi from Exchange"


def test_microsoft365_html_body_gets_the_shared_text() -> None:
    assert body_text({"contentType": "html", "content": sample("gmail-div")}) == expected("gmail-div")
    assert body_text({"contentType": "text", "content": "a <b> c"}) == "a <b> c"


def _email(text_body: str, html_body: str) -> EmailItem:
    return EmailItem(
        mailbox_id="e1",
        message_id="<e1@globex.com>",
        thread_id="t1",
        folder=Folder.INBOX,
        subject="Hi",
        sent_at=SENT,
        sender=Address("bob@globex.com"),
        to=(Address("ann@acme.com"),),
        text_body=text_body,
        html_body=html_body,
    )


def test_salesforce_body_prefers_text_and_converts_html_otherwise() -> None:
    assert plain_body(_email("Plain words", sample("comment-with-gt"))) == "Plain words"
    assert plain_body(_email("", sample("comment-with-gt"))) == expected("comment-with-gt")
