"""The Exchange adapter over the EWS emulator, with the real exchangelib in between, for tests.

Import with `from tests.contract.ews_harness import ...`. `EwsHarness` is the `MailboxHarness` of the shared contract: the adapter under test
plus the user's hands on the emulated mailbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.model import CalendarItem, Folder, MailboxConnection, Response, ShowAs, Stream
from rgsync.paths import Paths
from rgsync.providers.exchange import PASSWORD_SECRET, ExchangeConnection, ExchangeMailbox, open_exchange
from rgsync.sandbox.ews import RunningEws, start_ews
from rgsync.session.retry import Retrier, RetryPolicy

FOLDERS = {
    Folder.INBOX: "inbox",
    Folder.SENT: "sentitems",
    Folder.JUNK: "junkemail",
    Folder.DRAFTS: "drafts",
    Folder.TRASH: "deleteditems",
    Folder.OTHER: "msgfolderroot/Archive",
}
STREAM_FOLDERS = {
    Stream.EMAILS: ["inbox", "sentitems"],
    Stream.EVENTS: ["calendar"],
    Stream.TASKS: ["tasks/Salesforce Tasks"],
    Stream.CONTACTS: ["contacts/Salesforce Contacts"],
}
RESPONSE_NAMES = {
    Response.ORGANIZER: "organizer",
    Response.ACCEPTED: "accepted",
    Response.TENTATIVE: "tentative",
    Response.DECLINED: "declined",
    Response.NONE: "none",
}


@dataclass
class Sleeps:
    """A stand-in for time.sleep that only records what it was asked to wait."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    def clock(self) -> float:
        """A clock that moves only by the waits recorded."""
        return sum(self.waits)


def raw_email(
    *,
    sender: str,
    to: tuple[str, ...],
    subject: str,
    sent_at: datetime,
    message_id: str = "",
    cc: tuple[str, ...] = (),
    body: str = "Hello",
    headers: dict[str, str] | None = None,
) -> bytes:
    """An RFC 822 message as a mail server would deliver it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id or make_msgid(domain="example.com")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


def calendar_spec(item: CalendarItem, timezone: str = "UTC") -> dict[str, Any]:
    """The emulator's calendar spec for a domain calendar item."""
    spec: dict[str, Any] = {
        "subject": item.subject,
        "start": item.start_day if item.all_day else item.start,
        "end": item.end_day if item.all_day else item.end,
        "all_day": item.all_day,
        "location": item.location,
        "timezone": timezone,
        "free_busy": {ShowAs.FREE: "Free", ShowAs.OUT_OF_OFFICE: "OOF"}.get(item.show_as, "Busy"),
        "sensitivity": "Private" if item.private else "Normal",
        "body": item.description,
        "cancelled": item.cancelled,
        "my_response": RESPONSE_NAMES[item.my_response],
    }
    if item.organizer:
        spec["organizer"] = {"email": item.organizer.email, "name": item.organizer.name}
    if item.attendees:
        spec["required"] = [
            {"email": a.address.email, "name": a.address.name, "response": RESPONSE_NAMES[a.response]}
            for a in item.attendees
        ]
    if item.ical_uid:
        spec["uid"] = item.ical_uid
    return spec


TASK_KEYS = {"subject": "subject", "due": "due", "completed": "completed", "notes": "body"}
CONTACT_KEYS = {
    "first_name": "given_name",
    "last_name": "surname",
    "email": "email",
    "title": "job_title",
    "department": "department",
    "company": "company",
    "notes": "body",
}
EVENT_KEYS = {
    "subject": "subject",
    "start": "start",
    "end": "end",
    "location": "location",
    "description": "body",
}


def emulator_changes(stream: Stream, changes: dict[str, object]) -> dict[str, object]:
    """Domain field changes in the emulator's terms."""
    out: dict[str, object] = {}
    for name, value in changes.items():
        if stream is Stream.TASKS and name == "priority":
            out["importance"] = str(value)
        elif stream is Stream.CONTACTS and name in ("phone", "mobile_phone"):
            out["phones"] = {"BusinessPhone" if name == "phone" else "MobilePhone": value}
        elif stream is Stream.EVENTS and name == "cancelled":
            out["cancelled"] = value
        else:
            keys = {Stream.TASKS: TASK_KEYS, Stream.CONTACTS: CONTACT_KEYS, Stream.EVENTS: EVENT_KEYS}[stream]
            out[keys[name]] = value
    return out


class EwsHarness:
    """The adapter under test (`mailbox`) and the user's hands on the emulated mailbox (`ews`)."""

    def __init__(self, ews: RunningEws, mailbox: ExchangeMailbox, sleeps: Sleeps) -> None:
        self.ews = ews
        self.mailbox = mailbox
        self.sleeps = sleeps
        # Adapters never retry: the session's policy does, on a clock that only `sleeps` moves.
        self.retrier = Retrier(RetryPolicy(sleep=sleeps, clock=sleeps.clock, jitter=lambda: 0.5))

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
        raw = raw_email(
            sender=sender, to=to, subject=subject, sent_at=sent_at, message_id=message_id, cc=cc, body=body
        )
        return self.ews.state.add_message(raw, FOLDERS[folder], received=sent_at)

    def add_event(self, item: CalendarItem) -> str:
        return self.ews.state.add_calendar_item(calendar_spec(item))

    def edit(self, stream: Stream, item_id: str, **changes: object) -> None:
        self.ews.state.update_item(item_id, emulator_changes(stream, dict(changes)))

    def delete(self, stream: Stream, item_id: str) -> None:
        self.ews.state.delete_item(item_id)

    def expire(self, stream: Stream) -> None:
        for folder in STREAM_FOLDERS[stream]:
            self.ews.invalidate_sync_states(folder)

    def labels_of(self, mailbox_id: str) -> set[str]:
        return set(self.ews.state.categories_of(mailbox_id))

    def invitations_sent(self) -> int:
        return self.ews.invitations_sent()


def open_harness(
    tmp_path: Path,
    *,
    scenario: dict[str, Any] | None = None,
    time_zone: str = "UTC",
    password: str | None = None,
    **mailbox: Any,
) -> Iterator[EwsHarness]:
    """Start an emulator, open the adapter on it through `open_exchange`, and stop both afterwards.

    The password goes through the profile's credentials file, as `rgsync connect exchange` leaves it.
    """
    ews = start_ews(scenario=scenario)
    sleeps = Sleeps()
    try:
        paths = Paths(
            profile="default",
            settings_file=tmp_path / "settings.toml",
            org_policy_file=None,
            state_dir=tmp_path / "state",
        )
        CredentialStore(paths.profile, paths.credentials_file).set(PASSWORD_SECRET, password or ews.password)
        settings = SimpleNamespace(
            mailbox=MailboxConnection.from_table(
                {
                    "provider": "exchange",
                    "address": ews.address,
                    "ews-url": ews.url,
                    "username": ews.username,
                    "auth-type": "basic",
                    "time-zone": time_zone,
                    **mailbox,
                }
            )
        )
        adapter = open_exchange(
            ExchangeConnection.from_table(settings.mailbox.table()),
            CredentialStore(paths.profile, paths.credentials_file),
        )
        try:
            yield EwsHarness(ews, adapter, sleeps)
        finally:
            adapter.close()
    finally:
        ews.stop()
