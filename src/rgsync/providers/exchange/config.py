"""The typed `[mailbox]` connection config of an Exchange on-premises mailbox (EWS)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rgsync.providers.exchange.connection import ConnectionSettings


def _text(table: Mapping[str, Any], name: str, default: str = "") -> str:
    value = table.get(name)
    return str(value).strip() if value not in (None, "") else default


@dataclass(frozen=True)
class ExchangeConnection:
    """Where the mailbox is and how to sign in to it; the password or token stays in the store."""

    address: str = ""
    ews_url: str = ""
    username: str = ""  # '' means: sign in with the address
    auth_type: str = "ntlm"
    impersonate: bool = False
    time_zone: str = "UTC"
    ca_file: str = ""
    aliases: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> ExchangeConnection:
        """Read a `[mailbox]` table (leaf names; unset keys missing or None). Never raises."""
        aliases = table.get("aliases") or []
        return cls(
            address=_text(table, "address"),
            ews_url=_text(table, "ews-url"),
            username=_text(table, "username"),
            auth_type=_text(table, "auth-type", "ntlm").lower(),
            impersonate=bool(table.get("impersonate")),
            time_zone=_text(table, "time-zone", "UTC"),
            ca_file=_text(table, "ca-file"),
            aliases=tuple(str(a) for a in aliases) if isinstance(aliases, list | tuple) else (),
        )

    @property
    def sign_in_name(self) -> str:
        """Who signs in: the username, else the mailbox address."""
        return self.username or self.address

    def with_secret(self, secret: str) -> ConnectionSettings:
        """What exchangelib needs to reach the mailbox, with the secret from the store."""
        return ConnectionSettings(
            address=self.address,
            ews_url=self.ews_url,
            username=self.sign_in_name,
            secret=secret,
            auth_type=self.auth_type,
            impersonate=self.impersonate,
            time_zone=self.time_zone,
            ca_file=self.ca_file or None,
        )
