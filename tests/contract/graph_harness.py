"""The Microsoft 365 adapter against the Graph emulator, signed in for real with msal.

Import with `from tests.contract.graph_harness import ...`. The harness
runs msal's device-code flow against the emulator's authority once (the emulator approves the
code by itself after the first poll), keeps msal's token cache in a file credentials store, and
builds the adapter from a `[mailbox]` table exactly as `open_mailbox` does, so every Graph call
carries a token msal obtained silently from that cache.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.model import CalendarItem, Folder, Response, Stream, Write, WriteResult
from rgsync.providers.microsoft365 import Microsoft365Mailbox, mailbox_from_settings, sign_in_config
from rgsync.providers.microsoft365.auth import http_session, start_device_sign_in
from rgsync.providers.microsoft365.convert import contact_changes, event_changes, todo_changes
from rgsync.sandbox.graph import RunningGraph, start_graph
from rgsync.session.reconcile import send_reconciled
from rgsync.session.retry import Retrier, RetryPolicy

FOLDERS = {
    Folder.INBOX: "inbox",
    Folder.SENT: "sentitems",
    Folder.JUNK: "junkemail",
    Folder.DRAFTS: "drafts",
    Folder.TRASH: "deleteditems",
    Folder.OTHER: "archive",
}
RESPONSES = {
    Response.ORGANIZER: "organizer",
    Response.ACCEPTED: "accepted",
    Response.TENTATIVE: "tentativelyAccepted",
    Response.DECLINED: "declined",
    Response.NONE: "none",
}


@dataclass
class Sleeps:
    """A sleep that only records: tests never wait for back-off."""

    seconds: list[float] = field(default_factory=list)

    def __call__(self, delay: float) -> None:
        self.seconds.append(delay)

    def clock(self) -> float:
        """A clock that moves only by the waits recorded."""
        return sum(self.seconds)


def mailbox_settings(graph: RunningGraph, **extra: object) -> dict[str, object]:
    """A `[mailbox]` table pointing at the emulator."""
    return {
        "provider": "microsoft365",
        "address": graph.address,
        "aliases": [],
        "time-zone": "UTC",
        "graph-url": graph.graph_url,
        "authority-url": graph.url,
        "tenant-id": graph.tenant_id,
        "client-id": graph.client_id,
        "ca-file": str(graph.ca_file),
        **extra,
    }


def connect(graph: RunningGraph, store: CredentialStore) -> str:
    """`rgsync connect microsoft365`'s sign-in: msal's device-code flow; returns the username."""
    config = sign_in_config(mailbox_settings(graph))
    started = start_device_sign_in(config, store, http_session(config.ca_file))
    return started.wait(sleep=lambda _s: None)


class GraphHarness:
    """The `MailboxHarness` of the shared contract, over the Graph emulator."""

    def __init__(self, graph: RunningGraph, directory: Path, sleeps: Sleeps | None = None) -> None:
        self.graph = graph
        self.state = graph.state
        self.sleeps = sleeps or Sleeps()
        self.store = CredentialStore("contract", directory / "credentials.json")
        connect(graph, self.store)
        # Adapters never retry: the session's policy does, on a clock that only `sleeps` moves.
        self.retrier = Retrier(RetryPolicy(sleep=self.sleeps, clock=self.sleeps.clock, jitter=lambda: 0.5))
        self.mailbox: Microsoft365Mailbox = mailbox_from_settings(mailbox_settings(graph), self.store)

    def send(self, stream: Stream, writes: Sequence[Write]) -> list[WriteResult]:
        """`apply` as the session sends it: retried by its policy, uncertain creates reconciled."""
        return send_reconciled(
            writes,
            lambda ws: self.mailbox.apply(stream, ws),
            lambda _kind, keys: self.mailbox.find_tagged(stream, keys),
            self.retrier,
            stream.value,
        )

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
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        message["Subject"] = subject
        message["Date"] = format_datetime(sent_at)
        message["Message-ID"] = message_id
        message.set_content(body)
        return self.state.add_message(
            message.as_bytes(), FOLDERS[folder], thread=thread or None, received=sent_at
        )

    def add_event(self, item: CalendarItem) -> str:
        event: dict[str, Any] = {
            "subject": item.subject,
            "isAllDay": item.all_day,
            "start": {
                "dateTime": item.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC",
            },
            "end": {"dateTime": item.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "location": {"displayName": item.location},
            "showAs": {"Free": "free", "OutOfOffice": "oof"}.get(item.show_as.value, "busy"),
            "sensitivity": "private" if item.private else "normal",
            "isCancelled": item.cancelled,
            "responseStatus": {"response": RESPONSES[item.my_response]},
            "attendees": [
                {
                    "type": "required",
                    "status": {"response": RESPONSES[a.response]},
                    "emailAddress": {"address": a.address.email, "name": a.address.name},
                }
                for a in item.attendees
            ],
            "body": {"contentType": "text", "content": item.description},
        }
        if item.organizer is not None:
            event["organizer"] = {
                "emailAddress": {
                    "address": item.organizer.email,
                    "name": item.organizer.name or item.organizer.email,
                }
            }
        if item.ical_uid:
            event["iCalUId"] = item.ical_uid
        return self.state.add_event(event)

    def edit(self, stream: Stream, item_id: str, **changes: object) -> None:
        if stream is Stream.EVENTS:
            self.state.update_event(item_id, event_changes(changes, "UTC"))
        elif stream is Stream.TASKS:
            self.state.update_task(item_id, todo_changes(changes, "UTC"))
        elif stream is Stream.CONTACTS:
            self.state.update_contact(item_id, contact_changes(changes))
        else:
            categories = changes.get("labels")
            if categories is not None:
                self.state.set_categories(item_id, list(categories))  # type: ignore[call-overload]

    def delete(self, stream: Stream, item_id: str) -> None:
        {
            Stream.EVENTS: self.state.delete_event,
            Stream.TASKS: self.state.delete_task,
            Stream.CONTACTS: self.state.delete_contact,
            Stream.EMAILS: self.state.delete_message,
        }[stream](item_id)

    def expire(self, stream: Stream) -> None:
        self.state.expire_delta_tokens()

    def labels_of(self, mailbox_id: str) -> set[str]:
        return set(self.state.categories_of(mailbox_id))

    def invitations_sent(self) -> int:
        return self.state.invitations_sent()

    def graph_calls(self) -> int:
        """HTTP calls the emulator answered for Graph (sign-in calls not included)."""
        return self.graph.server.total_calls("graph.")


def running_graph(directory: Path, now: datetime | None = None) -> Iterator[RunningGraph]:
    """A started emulator whose clock stands still at `now` (default: the real clock)."""
    graph = start_graph(directory, clock=(lambda: now) if now else None)
    try:
        yield graph
    finally:
        graph.stop()


def window(now: datetime) -> tuple[datetime, datetime]:
    """The default sync window around `now` (SPEC §1 calendar-past-days / -future-days)."""
    return now - timedelta(days=14), now + timedelta(days=60)
