"""Facts about one email the email rules need: its natural key and whether it is a service message.

Kept apart from the planner (`rgsync.engine.emails`) because both the planner and auto-resolve use
them and they are the part most exposed to odd input (SPEC §7.8).
"""

from __future__ import annotations

from rgsync.model import EmailItem

# Exchange item classes that are never a person's email (SPEC §3.1): meeting requests, responses
# and cancellations (the calendar handles those), delivery/read reports, out-of-office and rule
# auto-replies, recall requests. Compared case-insensitively, as prefixes.
SERVICE_ITEM_CLASSES = (
    "ipm.schedule.",
    "report.",
    "ipm.note.rules.ooftemplate",
    "ipm.note.rules.replytemplate",
    "ipm.outlook.recall",
)

# Senders of bounces and delivery reports.
SERVICE_SENDERS = frozenset({"mailer-daemon", "postmaster"})


def message_key(email: EmailItem) -> str:
    """The email's natural key: its Internet Message-ID, cleaned (SPEC §3.7, §7.1).

    Whitespace left by folded headers is removed and angle brackets are added when missing, so
    every adapter yields the same key for the same email. An email without a Message-ID gets a
    stable key made from its mailbox id (SPEC §7.8), so crash recovery can still find it.
    """
    key = "".join(email.message_id.split())
    if not key.strip("<>"):
        return f"<mailbox-item.{''.join(email.mailbox_id.split())}@rgsync.invalid>"
    if not (key.startswith("<") and key.endswith(">")):
        key = f"<{key.strip('<>')}>"
    return key


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_service_message(email: EmailItem) -> bool:
    """True for messages no person wrote (SPEC §3.1), which are never saved, not even manually.

    Delivery reports and bounces (multipart/report, mailer-daemon/postmaster senders), read
    receipts (disposition notifications), meeting requests/responses/cancellations (text/calendar
    or an IPM.Schedule.* item class), out-of-office and other auto-replies (an `Auto-Submitted`
    header other than `no`, or an Exchange auto-reply item class).
    """
    content_type = email.content_type.lower()
    media_type = _media_type(content_type)
    if media_type in ("multipart/report", "text/calendar", "application/ics"):
        return True
    if "disposition-notification" in content_type:
        return True
    auto_submitted = email.auto_submitted.split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    item_class = email.item_class.strip().lower()
    if item_class and item_class.startswith(SERVICE_ITEM_CLASSES):
        return True
    if email.sender is not None:
        local = email.sender.email.strip().lower().rpartition("@")[0]
        if local in SERVICE_SENDERS:
            return True
    return False
