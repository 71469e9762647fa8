"""The typed `[mailbox]` connection config of a Gmail / Google Workspace mailbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rgsync.model import LABEL_SAVE, LABEL_SAVE_THREAD


def _text(table: Mapping[str, Any], name: str, default: str = "") -> str:
    value = table.get(name)
    return str(value).strip() if value not in (None, "") else default


def _aliases(table: Mapping[str, Any]) -> tuple[str, ...]:
    aliases = table.get("aliases") or []
    return tuple(str(a) for a in aliases) if isinstance(aliases, list | tuple) else ()


@dataclass(frozen=True)
class GmailConnection:
    """Where the Gmail mailbox is and how rgsync signs in to it (secrets stay in the store)."""

    address: str = ""
    aliases: tuple[str, ...] = ()
    time_zone: str = ""
    save_label: str = LABEL_SAVE
    thread_label: str = LABEL_SAVE_THREAD
    api_url: str = ""
    client_secrets_file: str = ""
    service_account_file: str = ""

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> GmailConnection:
        """Read a `[mailbox]` table (leaf names; unset keys missing or None). Never raises."""
        return cls(
            address=_text(table, "address"),
            aliases=_aliases(table),
            time_zone=_text(table, "time-zone"),
            save_label=_text(table, "save-label", LABEL_SAVE),
            thread_label=_text(table, "thread-label", LABEL_SAVE_THREAD),
            api_url=_text(table, "gmail-api-url"),
            client_secrets_file=_text(table, "client-secrets-file"),
            service_account_file=_text(table, "service-account-file"),
        )

    def sign_in_table(self) -> dict[str, str]:
        """The keys the sign-in and doctor helpers read, in settings spelling."""
        return {
            "address": self.address,
            "gmail-api-url": self.api_url,
            "service-account-file": self.service_account_file,
        }
