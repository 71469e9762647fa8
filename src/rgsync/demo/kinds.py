"""The mailbox kinds the sandbox can emulate: one table, one row per kind.

Each row names the emulator and the module of this package that joins it to rgsync (its
`SIDE`): how to start the emulator for a scenario and write the profile that points rgsync at it
(the `[mailbox]` keys, the secrets, what endpoints.json says), how the demo reads the mailbox as
a person would, and how it changes the mailbox between its two sessions. `rgsync demo`,
`rgsync sandbox serve` and the profile writer look a kind up here and never branch on its name.

Importing this module loads no emulator and no client library: a row's side is imported when a
sandbox of that kind starts, so `rgsync demo --help` stays quick.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rgsync.errors import UsageError
from rgsync.sandbox.scenario import Scenario


class MailboxReader(Protocol):
    """The demo's view of a mailbox, answered in the Google APIs' shapes whatever the kind, so one
    snapshot tells every mailbox: Calendar events (`id`, `summary`, `start`), Tasks (`title`,
    `status`, `due`) and People persons (`names`, `emailAddresses`)."""

    def events(self) -> list[dict[str, Any]]: ...

    def tasks(self, list_title: str) -> list[dict[str, Any]]: ...

    def contacts(self, group_name: str) -> list[dict[str, Any]]: ...


class RunningSandbox(Protocol):
    """What a side needs of a running sandbox (`rgsync.demo.sandbox.Sandbox` is the one)."""

    @property
    def scenario(self) -> Scenario: ...

    @property
    def mailbox(self) -> Any: ...


@dataclass(frozen=True)
class MailboxSide:
    """How this package joins one mailbox emulator to rgsync.

    `start(scenario, directory)` starts the emulator (the directory is for its TLS files);
    `settings`, `secrets` and `endpoints` take the running emulator and give the `[mailbox]` keys,
    the credentials the adapter reads, and the endpoints.json entry; `reader` and `edit` take the
    running sandbox: the demo's reader, and the mailbox changes it makes (returned in words).
    """

    start: Callable[[Scenario, Path], Any]
    settings: Callable[[Any], Mapping[str, Any]]
    secrets: Callable[[Any], Mapping[str, str]]
    endpoints: Callable[[Any], Mapping[str, Any]]
    reader: Callable[[RunningSandbox], MailboxReader]
    edit: Callable[[RunningSandbox], list[str]]


@dataclass(frozen=True)
class MailboxKind:
    """One row of the table: names for people, the emulator's module, and the module whose `SIDE`
    joins the emulator to rgsync."""

    name: str
    served_as: str
    change_feed: str
    emulator: str
    side_module: str

    def side(self) -> MailboxSide:
        """The kind's `MailboxSide`, imported on first use."""
        side = importlib.import_module(self.side_module).SIDE
        if not isinstance(side, MailboxSide):
            raise TypeError(f"{self.side_module}.SIDE is not a MailboxSide")
        return side

    def available(self) -> bool:
        """Whether this installation has the emulator (a trimmed install may leave one out)."""
        return importlib.util.find_spec(self.emulator) is not None


KINDS: dict[str, MailboxKind] = {
    "gmail": MailboxKind(
        name="Gmail",
        served_as="Gmail (Google APIs)",
        change_feed="Gmail history, Calendar/People sync tokens",
        emulator="rgsync.sandbox.google",
        side_module="rgsync.demo.gmail",
    ),
    "exchange": MailboxKind(
        name="Exchange",
        served_as="Exchange",
        change_feed="one SyncFolderItems sync state per folder",
        emulator="rgsync.sandbox.ews",
        side_module="rgsync.demo.exchange",
    ),
    "microsoft365": MailboxKind(
        name="Microsoft 365",
        served_as="Microsoft 365",
        change_feed="Graph delta links per folder, calendar view and list",
        emulator="rgsync.sandbox.graph",
        side_module="rgsync.demo.microsoft365",
    ),
}
MAILBOX_KINDS: tuple[str, ...] = tuple(KINDS)


def mailbox_kind(kind: str) -> MailboxKind:
    """The row for `kind`, or one clear line when the sandbox cannot emulate it in this version."""
    row = KINDS.get(kind)
    if row is None:
        raise UsageError(f"unknown mailbox kind '{kind}'; use one of: {', '.join(MAILBOX_KINDS)}")
    if not row.available():
        raise UsageError(
            f"the sandbox has no {row.name} mailbox in this version of rgsync yet; use --mailbox gmail"
        )
    return row


def check_mailbox_kind(kind: str) -> None:
    """Refuse, with one clear line, a mailbox kind the sandbox cannot emulate in this version."""
    mailbox_kind(kind)
