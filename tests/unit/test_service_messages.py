"""The service-message rule (SPEC §3.1) on a corpus of real bounces and auto-replies.

Each message is read by the Gmail MIME reader (the adapter that sees raw RFC 822) and judged by
`rgsync.engine.service_messages`; the shape tests call the pure function with the header set
every adapter passes. See tests/data/mail/README.md for where the messages come from.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rgsync.engine.email_items import is_service_message, service_kind
from rgsync.engine.service_messages import service_message_kind
from rgsync.model import Folder
from rgsync.providers.google.mime import parse_email

CORPUS = Path(__file__).resolve().parents[1] / "data" / "mail"
# Person-written messages in the corpus: never service messages, whatever they look like. (The
# GTUBE spam test message of mail-parser says `Precedence: junk`: it is machine mail, not here.)
PERSON_WRITTEN = {
    "flufl-bounce/groupwise_03.txt",
    "mail-parser/mail_test_3.eml",
    "mail-parser/mail_test_12.eml",
    "mail-parser/mail_test_14.eml",
    "mail-parser/mail_test_18.eml",
    "mail-parser/mail_test_19.eml",
    "shapes/person-mailing-list-post.eml",
    "shapes/person-reply-about-a-bounce.eml",
}


def corpus() -> list[str]:
    """Every message of the corpus, as a path relative to tests/data/mail."""
    return sorted(
        str(path.relative_to(CORPUS))
        for path in CORPUS.glob("*/*")
        if path.suffix in (".txt", ".eml") and not path.name.startswith(("LICENSE", "NOTICE"))
    )


def service_corpus() -> list[str]:
    """The bounces, delivery reports, read receipts and auto-replies of the corpus."""
    return [name for name in corpus() if name not in PERSON_WRITTEN]


def read(name: str) -> object:
    return parse_email((CORPUS / name).read_bytes(), mailbox_id=name, thread_id=name, folder=Folder.INBOX)


def test_spec_3_1_the_corpus_is_there() -> None:
    """A corpus the glob cannot find would make the tests below pass on nothing."""
    names = corpus()
    assert len([n for n in names if n.startswith("flufl-bounce/")]) == 117
    assert len(service_corpus()) >= 125
    assert set(names) >= PERSON_WRITTEN


@pytest.mark.parametrize("name", service_corpus())
def test_spec_3_1_every_bounce_and_auto_reply_of_the_corpus_is_a_service_message(name: str) -> None:
    assert service_kind(read(name)) != ""  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(PERSON_WRITTEN))
def test_spec_3_1_person_written_mail_of_the_corpus_is_not(name: str) -> None:
    assert not is_service_message(read(name))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("headers", "sender", "subject", "item_class", "kind"),
    [
        ({"from": '"Jetmail System" <>'}, "", "Mail Error", "", "delivery report"),
        ({"from": "Postmaster <>"}, "", "Undeliverable: userx@example.com", "", "delivery report"),
        (
            {"return-path": "<>", "from": "Bob <bob@globex.com>"},
            "bob@globex.com",
            "Re: x",
            "",
            "delivery report",
        ),
        ({"from": "<Postmaster\\@example.com@xxx.com>"}, "", "Your message", "", "delivery report"),
        ({}, "MDaemon@receive.example.com", "Permanent Delivery Failure", "", "delivery report"),
        ({}, "e500_smtp_mail_service@example.org", "Returned Mail", "", "delivery report"),
        ({}, "imss@kviv.be", "Notice", "", "delivery report"),
        ({}, "ndr@some.domain", "Notice", "", "delivery report"),
        ({}, "MAILER-DAEMON@mx.globex.com", "failure notice", "", "delivery report"),
        ({}, "admin@example.com", "Delivery Failure", "", "delivery report"),
        ({}, "it@example.com", "Undeliverable: Pricing", "", "delivery report"),
        ({}, "it@example.com", "Mail could not be delivered", "", "delivery report"),
        ({}, "it@example.com", "RE: Pricing : non remis (delivery failed)", "", "delivery report"),
        ({"content-type": "multipart/report; report-type=delivery-status"}, "", "", "", "delivery report"),
        ({"content-type": "message/delivery-status"}, "", "", "", "delivery report"),
        (
            {"content-type": "multipart/report; report-type=disposition-notification"},
            "",
            "",
            "",
            "read receipt",
        ),
        ({"content-type": "text/calendar; method=request"}, "", "", "", "meeting message"),
        ({}, "bob@globex.com", "Pricing", "REPORT.IPM.Note.NDR", "delivery report"),
        ({}, "bob@globex.com", "Pricing", "IPM.Note.Rules.OofTemplate.Microsoft", "auto-reply"),
        ({}, "bob@globex.com", "Pricing", "IPM.Schedule.Meeting.Request", "meeting message"),
        ({"auto-submitted": "auto-replied"}, "bob@globex.com", "Re: Pricing", "", "auto-reply"),
        ({"auto-submitted": "auto-generated (failure)"}, "bob@globex.com", "Re: Pricing", "", "auto-reply"),
        ({"precedence": "auto_reply"}, "bob@globex.com", "Re: Pricing", "", "auto-reply"),
        ({"precedence": "Bulk"}, "bob@globex.com", "Re: Pricing", "", "bulk mail"),
        ({"precedence": "junk"}, "bob@globex.com", "Re: Pricing", "", "bulk mail"),
        ({"x-autoreply": "yes"}, "bob@globex.com", "Re: Pricing", "", "auto-reply"),
        ({"x-autoreply": ""}, "bob@globex.com", "Re: Pricing", "", "auto-reply"),
        ({"x-autorespond": "away"}, "bob@globex.com", "Re: Pricing", "", "auto-reply"),
        ({"x-auto-response-suppress": "All"}, "bob@globex.com", "Re: Pricing", "", "auto-reply"),
        ({}, "bob@globex.com", "Automatic reply: Pricing", "", "auto-reply"),
    ],
)
def test_spec_3_1_each_marker_alone_makes_a_service_message(
    headers: dict[str, str], sender: str, subject: str, item_class: str, kind: str
) -> None:
    assert service_message_kind(headers, sender=sender, subject=subject, item_class=item_class) == kind


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ({"precedence": "list", "from": "Bob <bob@globex.com>"}, "Joint roadmap"),
        ({"auto-submitted": "no"}, "Pricing"),
        ({"x-auto-response-suppress": "None"}, "Pricing"),
        ({"content-type": "multipart/alternative"}, "Delivery failure of order 1234"),
        ({}, "Re: Undeliverable: Pricing"),
        ({}, "Fwd: Delivery Status Notification (Failure)"),
        ({"return-path": "<bob@globex.com>"}, "Pricing"),
    ],
)
def test_spec_3_1_a_person_s_mail_with_look_alike_markers_is_saved(
    headers: dict[str, str], subject: str
) -> None:
    """`Precedence: list` is a person writing to a list; a reply or forward about a bounce is a person too."""
    assert service_message_kind(headers, sender="bob@globex.com", subject=subject) == ""
