"""The RULE-CASES.md world on every mailbox kind: Gmail, Exchange and Microsoft 365.

`open_kind_box(directory, text, kind)` starts the sandbox of `rule_cases_sandbox` with the mailbox
emulator of `kind`. `Hands` is what the user sees and does in the mailbox, through rgsync's own
adapter for that kind (the same code a session uses, over real HTTP to the emulator): what the
calendar, `Salesforce Tasks` and `Salesforce Contacts` hold, deleting a task or a contact, renaming
a meeting. So every test written against `Hands` runs unchanged on the three kinds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rgsync import registry
from rgsync.model import CalendarItem, ContactItem, Delete, RecordKind, Stream, TaskItem, Update
from rgsync.providers.base import Mailbox, MailboxReadOptions
from rgsync.settings import load_settings
from tests.system.rule_cases_sandbox import Box, open_box

KINDS = ("gmail", "exchange", "microsoft365")


class Hands:
    """The user's mailbox of one sandbox, read and changed through rgsync's adapter for its kind."""

    def __init__(self, box: Box) -> None:
        self.box = box

    @contextlib.contextmanager
    def _mailbox(self) -> Iterator[Mailbox]:
        paths = self.box.sandbox.paths
        mailbox = registry.open_mailbox(
            load_settings(paths.settings_file, paths.org_policy_file).effective(), paths
        )
        try:
            yield mailbox
        finally:
            mailbox.close()

    @staticmethod
    def _window() -> MailboxReadOptions:
        now = datetime.now(UTC)
        return MailboxReadOptions(
            email_since=now - timedelta(days=6),
            calendar_start=now - timedelta(days=14),
            calendar_end=now + timedelta(days=60),
        )

    def listing(self, stream: Stream) -> list[object]:
        """Every item of the stream's mailbox side as a full listing shows it."""
        with self._mailbox() as mailbox:
            return [item for page in mailbox.changes(stream, None, self._window()) for item in page.items]

    def listing_all(self) -> list[object]:
        """Every item of the calendar, `Salesforce Tasks` and `Salesforce Contacts`."""
        return [i for stream in (Stream.EVENTS, Stream.TASKS, Stream.CONTACTS) for i in self.listing(stream)]

    def calendar(self) -> dict[str, CalendarItem]:
        """Live calendar items in the window, by subject."""
        return {
            i.subject: i
            for i in self.listing(Stream.EVENTS)
            if isinstance(i, CalendarItem) and not i.cancelled
        }

    def tasks(self) -> dict[str, TaskItem]:
        """The tasks of `Salesforce Tasks`, by subject."""
        return {i.subject: i for i in self.listing(Stream.TASKS) if isinstance(i, TaskItem)}

    def contacts(self) -> dict[str, ContactItem]:
        """The contacts of `Salesforce Contacts`, by "First Last"."""
        return {
            f"{i.first_name} {i.last_name}".strip(): i
            for i in self.listing(Stream.CONTACTS)
            if isinstance(i, ContactItem)
        }

    def _write(self, stream: Stream, write: Update | Delete) -> None:
        with self._mailbox() as mailbox:
            [result] = mailbox.apply(stream, [write])
        assert result.ok, result

    def delete_task(self, subject: str) -> None:
        """The user deletes a task from `Salesforce Tasks`."""
        self._write(Stream.TASKS, Delete(RecordKind.TASK, self.tasks()[subject].id))

    def delete_contact(self, name: str) -> None:
        """The user deletes a contact from `Salesforce Contacts`."""
        self._write(Stream.CONTACTS, Delete(RecordKind.CONTACT, self.contacts()[name].id))

    def rename_meeting(self, subject: str, new_subject: str) -> None:
        """The user renames a meeting in the calendar."""
        self._write(
            Stream.EVENTS, Update(RecordKind.EVENT, self.calendar()[subject].id, {"subject": new_subject})
        )


@contextlib.contextmanager
def open_kind_box(directory: Path, text: str, kind: str) -> Iterator[tuple[Box, Hands]]:
    """A sandbox of the scenario `text` with a `kind` mailbox, and the user's hands on it."""
    with open_box(directory, text, mailbox=kind) as box:
        yield box, Hands(box)
