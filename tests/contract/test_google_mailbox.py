"""The mailbox contract run against the Google adapter, over the real google-api-python-client
talking HTTP to the loopback Google emulator (no mocking of the client library)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from rgsync.model import CalendarItem, Folder, Response, ShowAs, Stream
from rgsync.providers.google.api import GoogleApi
from rgsync.providers.google.mailbox import GoogleMailbox
from rgsync.sandbox.google import RunningGoogle, start_google
from tests.contract.mailbox_contract import MailboxContract

TASK_LIST = "Salesforce Tasks"
FOLDER_LABELS = {
    Folder.INBOX: ["INBOX"],
    Folder.SENT: ["SENT"],
    Folder.JUNK: ["SPAM"],
    Folder.TRASH: ["TRASH"],
    Folder.DRAFTS: ["DRAFT"],
    Folder.OTHER: [],
}
_RESPONSE_STATUS = {
    Response.ACCEPTED: "accepted",
    Response.TENTATIVE: "tentative",
    Response.DECLINED: "declined",
    Response.NONE: "needsAction",
    Response.ORGANIZER: "accepted",
}


def google_mailbox(google: RunningGoogle) -> GoogleMailbox:
    """The adapter pointed at the emulator, signed in with the emulator's bearer token."""
    api = GoogleApi(lambda: Credentials(token=google.token), endpoint=google.url)
    return GoogleMailbox(api, address=google.address)


def rfc822(
    *,
    sender: str,
    to: tuple[str, ...],
    subject: str,
    sent_at: datetime,
    message_id: str,
    cc: tuple[str, ...] = (),
    body: str = "Hello",
) -> bytes:
    """A real RFC 822 message built with the standard library."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id
    message.set_content(body)
    return bytes(message)


def event_json(item: CalendarItem, address: str) -> dict[str, Any]:
    """A CalendarItem as the Calendar API JSON another client would have stored."""

    def when(moment: datetime) -> dict[str, str]:
        if item.all_day:
            return {"date": moment.date().isoformat()}
        return {"dateTime": moment.isoformat()}

    event: dict[str, Any] = {
        "summary": item.subject,
        "start": when(item.start),
        "end": when(item.end),
        "location": item.location,
        "transparency": "transparent" if item.show_as is ShowAs.FREE else "opaque",
        "visibility": "private" if item.private else "default",
    }
    organizer = item.organizer.email if item.organizer else address
    event["organizer"] = {"email": organizer, "self": organizer == address}
    if item.attendees:
        event["attendees"] = [
            {"email": a.address.email, "responseStatus": _RESPONSE_STATUS[a.response]} for a in item.attendees
        ]
    return event


class GoogleHarness:
    """The adapter under test plus the user's hands on the emulator (its setup helpers)."""

    def __init__(self, google: RunningGoogle) -> None:
        self.google = google
        self.state = google.state
        self.mailbox = google_mailbox(google)

    def add_email(
        self,
        *,
        folder: Folder,
        sender: str,
        to: tuple[str, ...],
        subject: str,
        sent_at: datetime,
        message_id: str,
        thread: str = "",
        cc: tuple[str, ...] = (),
        body: str = "Hello",
    ) -> str:
        raw = rfc822(
            sender=sender, to=to, subject=subject, sent_at=sent_at, message_id=message_id, cc=cc, body=body
        )
        return self.state.add_message(raw, labels=FOLDER_LABELS[folder], thread_id=thread or None)

    def add_event(self, item: CalendarItem) -> str:
        return self.state.add_event(event_json(item, self.google.address))

    def edit(self, stream: Stream, item_id: str, **changes: object) -> None:
        if stream is Stream.TASKS:
            patch: dict[str, Any] = {}
            if "completed" in changes:
                patch["status"] = "completed" if changes["completed"] else "needsAction"
            if "subject" in changes:
                patch["title"] = changes["subject"]
            self.state.tasks.update_task(TASK_LIST, item_id, patch)
        elif stream is Stream.EVENTS:
            self.state.calendar.update_event(
                item_id, {"summary": changes["subject"]} if "subject" in changes else {}
            )
        elif stream is Stream.CONTACTS:
            person = self.state.people.get_contact(item_id)
            if "mobile_phone" in changes:
                person["phoneNumbers"] = [{"value": changes["mobile_phone"], "type": "mobile"}]
            self.state.people.update_contact(item_id, {"phoneNumbers": person.get("phoneNumbers", [])})

    def delete(self, stream: Stream, item_id: str) -> None:
        if stream is Stream.TASKS:
            self.state.tasks.update_task(TASK_LIST, item_id, {"deleted": True})
        elif stream is Stream.EVENTS:
            self.state.calendar.delete_event(item_id)
        elif stream is Stream.CONTACTS:
            self.state.people.delete_contact(item_id)
        else:
            self.state.delete_message(item_id)

    def expire(self, stream: Stream) -> None:
        {
            Stream.EMAILS: self.state.expire_history,
            Stream.EVENTS: self.state.expire_sync_tokens,
            Stream.CONTACTS: self.state.expire_people_sync_tokens,
        }.get(stream, lambda: None)()

    def labels_of(self, mailbox_id: str) -> set[str]:
        gmail = self.state.gmail
        return {
            str(gmail.user_labels[i]["name"]) if i in gmail.user_labels else i
            for i in gmail.messages[mailbox_id].label_ids
        }

    def invitations_sent(self) -> int:
        return sum(1 for _method, _id, choice in self.state.calendar.send_updates_log if choice != "none")


@pytest.fixture
def google() -> Iterator[RunningGoogle]:
    running = start_google()
    try:
        yield running
    finally:
        running.stop()


class TestGoogleMailbox(MailboxContract):
    @pytest.fixture
    def harness(self, google: RunningGoogle) -> GoogleHarness:
        return GoogleHarness(google)
