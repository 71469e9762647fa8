"""Writing emails: an email as a completed email Task or as an EmailMessage (SPEC §3.7).

* Emails in Task mode are completed Tasks (TaskSubtype Email) whose Description starts with a
  From/To/Cc/Date/Message-ID header block. The `Message-ID:` line is how rgsync finds its own
  email Tasks again in orgs without the optional external-id field (`find_existing`).
* Emails in EmailMessage mode relate their people through the junction lists ToIds / CcIds /
  BccIds, written in the same sObject Collections call as the email (Salesforce creates the
  EmailMessageRelation rows atomically). A sender who is a people record cannot go into a junction
  list, so an explicit EmailMessageRelation (RelationType FromAddress) is written right after, in
  one further Collections call for the whole batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.utils import format_datetime, formataddr
from typing import Any

from rgsync.model import Address, EmailActivity, EmailItem, EmailRecipient, Folder
from rgsync.providers.salesforce.mapping.values import (
    EMAIL_ADDRESSES_MAX,
    EMAIL_BODY_MAX,
    EMAIL_SUBJECT_MAX,
    MESSAGE_ID_MAX,
    TASK_DESCRIPTION_MAX,
    TASK_SUBJECT_MAX,
    THREAD_ID_MAX,
    OrgShape,
    fit,
    key_value,
    sf_datetime,
    who_fields,
    who_list,
)
from rgsync.providers.text import html_to_text


def _address(address: Address) -> str:
    return formataddr((address.name, address.email)) if address.name else address.email


def header_block(email: EmailItem) -> str:
    """The From/To/Cc/Date/Message-ID block that opens an email Task's Description."""
    lines = []
    if email.sender is not None:
        lines.append(f"From: {_address(email.sender)}")
    if email.to:
        lines.append("To: " + ", ".join(_address(a) for a in email.to))
    if email.cc:
        lines.append("Cc: " + ", ".join(_address(a) for a in email.cc))
    lines.append(f"Date: {format_datetime(email.sent_at)}")
    if email.message_id:
        lines.append(f"Message-ID: {email.message_id}")
    return "\n".join(lines)


def plain_body(email: EmailItem) -> str:
    """The email's text body, or its HTML body rendered as text."""
    return email.text_body or (html_to_text(email.html_body) if email.html_body else "")


def email_task(activity: EmailActivity, shape: OrgShape, natural_key: str) -> dict[str, Any]:
    """An email as a completed Task with TaskSubtype Email (SPEC §3.7, Task mode)."""
    email = activity.email
    subject = f"Email: {email.subject}".strip()
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "Subject": subject[:TASK_SUBJECT_MAX],
        "TaskSubtype": "Email",
        "Status": "Completed",
        "Priority": "Normal",
        "ActivityDate": email.sent_at.astimezone(shape.time_zone).date().isoformat(),
        "Description": fit(header_block(email) + "\n\n" + plain_body(email), TASK_DESCRIPTION_MAX),
    }
    record.update(who_fields(activity.who_ids, "TaskWhoIds", shape))
    if activity.what_id:
        record["WhatId"] = activity.what_id
    if activity.owner_id:
        record["OwnerId"] = activity.owner_id
    key_field = shape.key_field("Task")
    if key_field:
        record[key_field] = key_value(natural_key)
    return record


def _join_addresses(addresses: Sequence[Address]) -> str | None:
    """Addresses as EmailMessage keeps them ('; '-separated, whole addresses within 4,000)."""
    out = ""
    for address in addresses:
        candidate = f"{out}; {address.email}" if out else address.email
        if len(candidate) > EMAIL_ADDRESSES_MAX:
            break
        out = candidate
    return out or None


def email_message(
    activity: EmailActivity, shape: OrgShape, natural_key: str, person_emails: Mapping[str, str]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """An email as an EmailMessage (SPEC §3.7) and the (person id, address) of a people sender.

    Each person of `who_ids` goes into the junction list of the header that names their address
    (`person_emails` maps ids to addresses); people whose address is not known go into ToIds.
    """
    email = activity.email
    people = who_list(activity.who_ids)
    lists: dict[str, list[str]] = {"ToIds": [], "CcIds": [], "BccIds": []}
    to = {a.email for a in email.to}
    cc = {a.email for a in email.cc}
    bcc = {a.email for a in email.bcc}
    sender = email.sender.email if email.sender else ""
    related: set[str] = set()
    senders: list[tuple[str, str]] = []
    for person in people:
        address = person_emails.get(person, "").lower()
        if address and address == sender and address not in to | cc | bcc:
            senders.append((person, address))
            continue
        target = "CcIds" if address in cc else "BccIds" if address in bcc else "ToIds"
        lists[target].append(person)
        if address:
            related.add(address)
    text = plain_body(email)
    record: dict[str, Any] = {
        "attributes": {"type": "EmailMessage"},
        "Subject": email.subject[:EMAIL_SUBJECT_MAX],
        "Status": "3",
        "Incoming": email.folder is not Folder.SENT,
        "MessageIdentifier": natural_key[:MESSAGE_ID_MAX],
        "MessageDate": sf_datetime(email.sent_at),
        "TextBody": fit(text, EMAIL_BODY_MAX) if text else None,
        "HtmlBody": fit(email.html_body, EMAIL_BODY_MAX) if email.html_body else None,
        # Addresses that are people records go through the Ids lists, not the address strings.
        "ToAddress": _join_addresses([a for a in email.to if a.email not in related]),
        "CcAddress": _join_addresses([a for a in email.cc if a.email not in related]),
        "BccAddress": _join_addresses([a for a in email.bcc if a.email not in related]),
    }
    if email.thread_id:
        record["ThreadIdentifier"] = email.thread_id[:THREAD_ID_MAX]
    if email.sender is not None:
        record["FromAddress"] = email.sender.email
        if email.sender.name:
            record["FromName"] = email.sender.name[:1000]
    for name, ids in lists.items():
        if ids:
            record[name] = ids
    if activity.what_id:
        record["RelatedToId"] = activity.what_id
    key_field = shape.key_field("EmailMessage")
    if key_field:
        record[key_field] = key_value(natural_key)
    return record, senders


def sender_relation(email_message_id: str, person_id: str, address: str) -> dict[str, Any]:
    """The FromAddress EmailMessageRelation tying an email to the people record who sent it."""
    return {
        "attributes": {"type": "EmailMessageRelation"},
        "EmailMessageId": email_message_id,
        "RelationId": person_id,
        "RelationAddress": address,
        "RelationType": "FromAddress",
    }


def email_recipient(recipient: EmailRecipient) -> dict[str, Any]:
    """The EmailMessageRelation relating a User to an email a colleague saved (SPEC §3.7)."""
    return {
        "attributes": {"type": "EmailMessageRelation"},
        "EmailMessageId": recipient.email_id,
        "RelationId": recipient.user_id,
        "RelationAddress": recipient.address[:255],
        "RelationType": recipient.relation_type,
    }
