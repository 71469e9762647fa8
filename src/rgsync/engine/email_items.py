"""Facts about one email the email rules need: its natural key and whether it is a service message.

Kept apart from the planner (`rgsync.engine.emails`) because both the planner and auto-resolve use
them and they are the part most exposed to odd input (SPEC §7.8).
"""

from __future__ import annotations

from functools import lru_cache

from rgsync.engine.service_messages import content_type_kind, service_message_kind
from rgsync.model import EmailItem


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


def is_service_message(email: EmailItem) -> bool:
    """True for messages no person wrote (SPEC §3.1), which are never saved, not even manually.

    Decided by `service_messages.service_message_kind` from the headers the adapter read; the
    `content_type` and `auto_submitted` fields stand in for headers an adapter did not pass.
    """
    return bool(service_kind(email))


def service_kind(email: EmailItem) -> str:
    """The kind of service message an email is ('' for a person's email): see `service_message_kind`."""
    return _service_kind(
        email.headers,
        email.content_type,
        email.auto_submitted,
        email.sender.email if email.sender else "",
        email.subject,
        email.item_class,
    )


# The planner asks about every email of a chunk in each of its passes (lookups, auto-resolve,
# plan); the answer depends on these few strings only, so it is worked out once per email. A
# chunk is at most `session.emails.EMAIL_CHUNK` emails, well within the bound.
@lru_cache(maxsize=4096)
def _service_kind(
    header_pairs: tuple[tuple[str, str], ...],
    content_type: str,
    auto_submitted: str,
    sender: str,
    subject: str,
    item_class: str,
) -> str:
    headers = {name.lower(): value for name, value in header_pairs}
    headers.setdefault("content-type", content_type)
    if auto_submitted:
        headers.setdefault("auto-submitted", auto_submitted)
    kind = service_message_kind(headers, sender=sender, subject=subject, item_class=item_class)
    if not kind and content_type:
        # The adapter's content type may name a part inside the message (an invitation's
        # text/calendar in a multipart/mixed), which the top-level header does not show.
        kind = content_type_kind(content_type)
    return kind
