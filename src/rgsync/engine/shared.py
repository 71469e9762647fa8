"""Records colleagues share across the org: the keys they are claimed by, and joining them (SPEC §3.7, §4.2).

Where one deployment syncs several colleagues (a fleet), a meeting they all attend is saved as one
Event and an email they all received as one EmailMessage. The session finds what a colleague's
session saved through the claims of `rgsync.session.shared`; these are the pure rules around it:

* `meeting_claim_key` — a meeting is the same in every attendee's calendar by its iCalendar UID
  and its start (an occurrence of a series shares the series' UID, so the start tells occurrences
  apart; normalised to UTC, because each calendar shows the start in its owner's zone);
* `email_claim_key` — an email is the same in every mailbox by its Internet Message-ID;
* `join_colleague_emails` — an email a colleague already saved as an EmailMessage is not saved
  again: the user is related to it (an EmailMessageRelation naming the user) and linked to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rgsync.engine.blocklist import normalise_address
from rgsync.engine.types import Action, Identity, Plan
from rgsync.model import (
    CalendarItem,
    Create,
    EmailItem,
    EmailRecipient,
    RecordKind,
    utc,
)

EVENT_CLAIMS = "event"
EMAIL_CLAIMS = "email"
# EmailMessage ids start with this prefix; an email saved as a Task takes no EmailMessageRelation.
EMAIL_MESSAGE_PREFIX = "02s"


def meeting_claim_key(item: CalendarItem) -> str | None:
    """The meeting's org-wide key: iCalendar UID + start in UTC; None without a UID."""
    uid = item.ical_uid.strip()
    if not uid:
        return None
    return f"{uid}|{utc(item.start).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def email_claim_key(message_key: str) -> str:
    """The email's org-wide key: its Message-ID (the key it is saved under)."""
    return message_key


def relation_type(email: EmailItem, identity: Identity) -> tuple[str, str]:
    """How the user appears in the email — (EmailMessageRelation.RelationType, address as shown).

    Sender first, then To, Cc, Bcc; an email that reached the user another way (a list, a
    forward rule) relates the user as a To recipient at the mailbox address.
    """
    own = {normalise_address(a) for a in (identity.address, *identity.aliases)} - {""}
    if email.sender is not None and normalise_address(email.sender.email) in own:
        return "FromAddress", email.sender.email
    for kind, addresses in (("ToAddress", email.to), ("CcAddress", email.cc), ("BccAddress", email.bcc)):
        for address in addresses:
            if normalise_address(address.email) in own:
                return kind, address.email
    return "ToAddress", identity.address


def join_colleague_emails(
    plan: Plan,
    colleague_emails: Mapping[str, str],
    emails: Sequence[EmailItem],
    identity: Identity,
) -> Plan:
    """Turn the plan's links to colleagues' EmailMessages into relations of the user (SPEC §3.7).

    `colleague_emails` maps a Message-ID to the EmailMessage a colleague's session saved. The
    planner links an email already in the org without writing; for those the user gets an
    EmailMessageRelation too, so the email shows on the user's side of Salesforce as well. A
    colleague's email Task (Task mode) is only linked, as before.
    """
    by_mailbox_id = {e.mailbox_id: e for e in emails}
    actions: list[Action] = []
    for action in plan.actions:
        link = action.link
        email_id = colleague_emails.get(link.natural_key) if link is not None else None
        email = by_mailbox_id.get(link.mailbox_id) if link is not None else None
        if (
            action.write is None
            and link is not None
            and email is not None
            and email_id
            and email_id.startswith(EMAIL_MESSAGE_PREFIX)
            and link.salesforce_id == email_id
        ):
            kind, address = relation_type(email, identity)
            key = f"recipient|{email_id}|{identity.user_id}"
            record = EmailRecipient(email_id, identity.user_id, address, kind)
            action = Action(
                action.stream,
                action.side,
                Create(RecordKind.EMAIL_RECIPIENT, key, record),
                link,
                action.subject,
            )
        actions.append(action)
    return Plan(
        actions=actions,
        labels=list(plan.labels),
        skips=list(plan.skips),
        issues=list(plan.issues),
        tracked_threads=list(plan.tracked_threads),
    )
