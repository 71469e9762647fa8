"""Service messages: emails no person wrote, which are never saved (SPEC §3.1).

One pure function, `service_message_kind`, decides for every mailbox kind from the same facts:
the headers of `SERVICE_HEADERS` (each adapter reads exactly these), the sender address as the
adapter parsed it, the subject and, on Exchange, the item class. Bounces, delivery and read
reports, meeting messages and auto-replies are recognised by what mail systems put on them:

* content types: multipart/report, message/delivery-status, disposition notifications, calendars;
* RFC 3834 `Auto-Submitted` (anything but `no`), and the older `Precedence: auto_reply/bulk/junk`,
  `X-Autoreply`, `X-Autorespond` and Exchange's `X-Auto-Response-Suppress`;
* the null sender (`Return-Path: <>` or `From: Postmaster <>`), which RFC 5321 reserves for
  delivery reports and auto-replies, and the mailboxes bounces come from (MAILER-DAEMON,
  postmaster, MDaemon, …);
* Exchange item classes (`REPORT.*`, `IPM.Note.Rules.OofTemplate`, meeting messages);
* the subjects mail servers give their bounces ("Undeliverable: …", "Delivery Failure", …),
  matched only at the start of the subject, so a person's "Re: Undeliverable …" still counts.

`Precedence: list` is *not* a service marker: a mailing-list post is written by a person (a
customer writing to a group the user is on is business correspondence), and the product leaves
newsletters and lists to the blocklist, not to service-message detection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rgsync.model import SERVICE_HEADERS

__all__ = ["SERVICE_HEADERS", "content_type_kind", "service_message_kind"]

BOUNCE = "delivery report"
READ_RECEIPT = "read receipt"
MEETING = "meeting message"
AUTO_REPLY = "auto-reply"
BULK = "bulk mail"

_REPORT_TYPES = frozenset({"multipart/report", "message/delivery-status"})
_MEETING_TYPES = frozenset({"text/calendar", "application/ics"})
# Precedence values that mark machine-sent mail; `list` is left out on purpose (module docstring).
_MACHINE_PRECEDENCE = {"auto_reply": AUTO_REPLY, "bulk": BULK, "junk": BULK}

# Exchange item classes that are never a person's email, compared case-insensitively as prefixes:
# meeting requests, responses and cancellations (the calendar handles those), delivery/read
# reports, out-of-office and rule auto-replies, recall requests.
_ITEM_CLASSES = (
    ("ipm.schedule.", MEETING),
    ("report.", BOUNCE),
    ("ipm.note.rules.ooftemplate", AUTO_REPLY),
    ("ipm.note.rules.replytemplate", AUTO_REPLY),
    ("ipm.outlook.recall", AUTO_REPLY),
)

# Local parts of the mailboxes delivery reports are sent from (MTAs, gateways, virus scanners).
_REPORT_SENDERS = frozenset(
    {
        "mailer-daemon",
        "mailer_daemon",
        "maildaemon",
        "mail-daemon",
        "postmaster",
        "mdaemon",
        "ndr",
        "nondeliverable",
        "e500_smtp_mail_service",
        "imss",
        "smtp_mail_service",
    }
)

# Subjects of bounces and auto-replies as mail servers write them, anchored at the start so that a
# person's reply or forward ("Re: …", "Fwd: …") is never taken for one.
_SUBJECTS = (
    (r"undeliver(able|ed)( mail)?\s*(:|returned|$)", BOUNCE),
    (r"(permanent |temporary )?delivery (failure|failed)( notification)?\s*(\(|:|$)", BOUNCE),
    (r"delivery (status )?notification\s*(\(|:|$)", BOUNCE),
    (r"(warning: )?delivery (has been )?delayed", BOUNCE),
    (r"mail delivery (failed|failure|warning|problem|subsystem)", BOUNCE),
    (r"mail (error|system error)\s*(:|$)", BOUNCE),
    (r"mail could not be delivered", BOUNCE),
    (r"returned mail\s*(:|-|$)", BOUNCE),
    (r"non[- ]?deliver(y|able)( report| notification| notice)?\s*:", BOUNCE),
    (r"failure notice\s*$", BOUNCE),
    (r"(warning: )?could not send message", BOUNCE),
    (r"message (delivery|status) (failure|report)", BOUNCE),
    (r"(nicht zustellbar|non remis|no se puede entregar|onbestelbaar)\s*:", BOUNCE),
    (r"(automatic reply|auto[- ]?reply|out of office( autoreply)?|abwesenheitsnotiz)\s*:", AUTO_REPLY),
)
_SUBJECT = [(re.compile(pattern, re.IGNORECASE), kind) for pattern, kind in _SUBJECTS]
# Exchange gateways in French append the verdict to a reply's subject: "RE: … : non remis (delivery failed)".
_SUBJECT_SUFFIX = re.compile(r":\s*non remis\b", re.IGNORECASE)
_ANGLE = re.compile(r"<([^<>]*)>\s*$")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _address_of(value: str) -> str | None:
    """The address of a From/Return-Path value ('' for the null sender `<>`), None when unreadable.

    Quotes and backslashes are dropped, so `"System Administrator"@host` and the mangled
    `<Postmaster\\@example.com@relay>` some gateways write still give a local part.
    """
    value = value.strip()
    if not value:
        return None
    found = _ANGLE.search(value)
    address = found.group(1) if found else value
    return address.replace("\\", "").replace('"', "").strip().lower()


def _local_part(address: str) -> str:
    return address.split("@", 1)[0].strip()


def _is_null_sender(headers: Mapping[str, str]) -> bool:
    return any(_address_of(headers[name]) == "" for name in ("return-path", "from") if name in headers)


def content_type_kind(content_type: str) -> str:
    """The kind of service message a Content-Type value alone shows ('' when it shows none):
    delivery and read reports, and meeting messages (SPEC §3.1)."""
    content_type = content_type.lower()
    media = _media_type(content_type)
    if media in _REPORT_TYPES:
        return READ_RECEIPT if "disposition-notification" in content_type else BOUNCE
    if "disposition-notification" in content_type or media == "message/disposition-notification":
        return READ_RECEIPT
    if media in _MEETING_TYPES:
        return MEETING
    return ""


def service_message_kind(
    headers: Mapping[str, str], *, sender: str = "", subject: str = "", item_class: str = ""
) -> str:
    """What kind of service message an email is ('' for a person's email) (SPEC §3.1).

    `headers` holds the headers of `SERVICE_HEADERS` that the message has, keyed by lower-case
    name, values as received (an empty value means the header is present but empty). `sender` is
    the sender address as the adapter parsed it ('' when there is none), `item_class` the Exchange
    item class ('' elsewhere). The answer is one of the kind words of this module, so the caller
    can say why an email was skipped.
    """
    kind = content_type_kind(headers.get("content-type", ""))
    if kind:
        return kind
    klass = item_class.strip().lower()
    for prefix, kind in _ITEM_CLASSES:
        if klass.startswith(prefix):
            return kind
    auto_submitted = headers.get("auto-submitted", "").split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return AUTO_REPLY
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return AUTO_REPLY
    suppress = headers.get("x-auto-response-suppress", "").strip().lower()
    if suppress and suppress != "none":
        # Exchange puts it on its own out-of-office replies and reports; a person's client does not.
        return AUTO_REPLY
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _MACHINE_PRECEDENCE:
        return _MACHINE_PRECEDENCE[precedence]
    if _is_null_sender(headers):
        return BOUNCE
    addresses = [sender.strip().lower()]
    if "from" in headers:
        addresses.append(_address_of(headers["from"]) or "")
    if any(_local_part(a) in _REPORT_SENDERS for a in addresses if a):
        return BOUNCE
    cleaned = " ".join(subject.split())
    for pattern, kind in _SUBJECT:
        if pattern.match(cleaned):
            return kind
    if _SUBJECT_SUFFIX.search(cleaned):
        return BOUNCE
    return ""
