"""The typed `[mailbox]` connection config of a Microsoft 365 mailbox (Graph)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rgsync.errors import UsageError
from rgsync.providers.microsoft365.auth import SignInConfig, authority_url
from rgsync.providers.microsoft365.client import DEFAULT_GRAPH_URL


def _text(table: Mapping[str, Any], name: str, default: str = "") -> str:
    value = table.get(name)
    return str(value).strip() if value not in (None, "") else default


@dataclass(frozen=True)
class Microsoft365Connection:
    """Which mailbox, which Entra app and which endpoints; secrets and token caches stay in the store."""

    address: str = ""
    aliases: tuple[str, ...] = ()
    time_zone: str = "UTC"
    client_id: str = ""
    tenant_id: str = ""
    authority_url: str = ""
    graph_url: str = ""
    ca_file: str = ""

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Microsoft365Connection:
        """Read a `[mailbox]` table (leaf names; unset keys missing or None). Never raises."""
        aliases = table.get("aliases") or []
        return cls(
            address=_text(table, "address").lower(),
            aliases=tuple(str(a) for a in aliases) if isinstance(aliases, list | tuple) else (),
            time_zone=_text(table, "time-zone", "UTC"),
            client_id=_text(table, "client-id"),
            tenant_id=_text(table, "tenant-id"),
            authority_url=_text(table, "authority-url"),
            graph_url=_text(table, "graph-url"),
            ca_file=_text(table, "ca-file"),
        )

    @property
    def graph_root(self) -> str:
        """The Graph root to call (Microsoft's unless the settings point elsewhere)."""
        return self.graph_url or DEFAULT_GRAPH_URL

    def sign_in(self) -> SignInConfig:
        """The msal sign-in details; UsageError naming the fix when the app's client id is missing."""
        if not self.client_id:
            raise UsageError(
                "mailbox.client-id is not set: give the application (client) id of your Microsoft Entra app "
                "with `rgsync connect microsoft365 --client-id ID`"
            )
        return SignInConfig(
            client_id=self.client_id,
            authority=authority_url(self.authority_url or None, self.tenant_id or None),
            ca_file=self.ca_file or None,
        )
