"""The mailbox contract run against the in-memory mailbox, so tests of the session stand on a
mailbox that behaves like the real adapters."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from rgsync.model import Address, CalendarItem, EmailItem, Folder, Stream
from rgsync.providers.memory import MemoryMailbox
from tests.contract.mailbox_contract import MailboxContract


class MemoryHarness:
    def __init__(self) -> None:
        self.mailbox = MemoryMailbox("ann@acme.com")

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
        mailbox_id = self.mailbox.new_id("msg")
        self.mailbox.put(
            Stream.EMAILS,
            EmailItem(
                mailbox_id=mailbox_id,
                message_id=message_id,
                thread_id=thread or mailbox_id,
                folder=folder,
                subject=subject,
                sent_at=sent_at,
                sender=Address(sender),
                to=tuple(Address(a) for a in to),
                cc=tuple(Address(a) for a in cc),
                text_body=body,
            ),
        )
        return mailbox_id

    def add_event(self, item: CalendarItem) -> str:
        event_id = self.mailbox.new_id("cal")
        self.mailbox.put(Stream.EVENTS, dataclasses.replace(item, id=event_id))
        return event_id

    def edit(self, stream: Stream, item_id: str, **changes: object) -> None:
        self.mailbox.edit(stream, item_id, **changes)

    def delete(self, stream: Stream, item_id: str) -> None:
        self.mailbox.remove(stream, item_id)

    def expire(self, stream: Stream) -> None:
        self.mailbox.expire_cursor(stream)

    def labels_of(self, mailbox_id: str) -> set[str]:
        return set(self.mailbox.emails[mailbox_id].labels)

    def invitations_sent(self) -> int:
        return self.mailbox.invitations_sent


class TestMemoryMailbox(MailboxContract):
    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness()
