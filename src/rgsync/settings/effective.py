"""The effective settings of a profile as one typed, frozen value: what the rest of rgsync reads.

`Settings` (store.py) knows the layers (forced > user > policy > default, SPEC §1) and the file;
`EffectiveSettings` is what comes out of them. Nothing outside `rgsync.settings` looks a value up
by its key string: the session reads `rules`, `schedule` and `blocklist`, the registry and the
adapters read the typed `mailbox` and `salesforce` connection tables.

`rules` is built from the schema, not by hand: every SPEC §1 key appears under its Python name
(`auto-save-emails` → `auto_save_emails`) with its typed value (bool, int, str, a choice enum of
`rgsync.model`, or a tuple of strings). The session hands it to the engine's `Rules` by name, so a
new setting that changes a rule is its `Key` in schema.py plus the `Rules` field the rule reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from rgsync.model import LogLevel, MailboxConnection, SalesforceConnection, SaveEmailsAs
from rgsync.settings.blocklist import BlocklistLayer
from rgsync.settings.schema import CONNECTION_TABLES, KEYS, Key, KeyType


class Settings(Protocol):
    """What resolving needs of the layered settings (`rgsync.settings.store.Settings` is one).

    A protocol rather than the class itself, so the store can hand itself over without the two
    modules importing each other.
    """

    @property
    def settings_file(self) -> Path: ...

    @property
    def user_blocklist(self) -> BlocklistLayer: ...

    @property
    def org_blocklist(self) -> BlocklistLayer: ...

    def value(self, name: str) -> Any: ...

    def source(self, name: str) -> str: ...

    def connection(self, table: str) -> Mapping[str, Any]: ...


SettingValue = bool | int | str | tuple[str, ...] | None
"""A typed setting value; a CHOICE key's value is a member of its enum (a `str`)."""


def python_name(key: Key) -> str:
    """The name a key's value goes by in typed code: its CLI name (or table leaf) with underscores."""
    return (key.leaf if "." in key.name else key.name).replace("-", "_")


@dataclass(frozen=True)
class Schedule:
    """When sessions run and how much of the org's API allocation they may use (SPEC §7.2, §7.4)."""

    interval_minutes: int = 30
    min_api_remaining: int = 10
    log_level: LogLevel = LogLevel.INFO


@dataclass(frozen=True)
class EffectiveSettings:
    """One profile's settings as rgsync applies them, typed and frozen (SPEC §1).

    `rules` holds every SPEC §1 setting by Python name; `schedule`, `blocklist`, `mailbox` and
    `salesforce` are the typed views the session, the registry and the adapters take. `sources`
    says which layer each SPEC §1 value came from ('default', 'policy', 'user' or 'forced'), by
    CLI name.
    """

    settings_file: Path
    rules: Mapping[str, SettingValue] = field(default_factory=lambda: MappingProxyType({}))
    schedule: Schedule = field(default_factory=Schedule)
    blocklist: BlocklistLayer = field(default_factory=BlocklistLayer)
    mailbox: MailboxConnection = field(default_factory=MailboxConnection)
    salesforce: SalesforceConnection = field(default_factory=SalesforceConnection)
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def save_emails_as(self) -> SaveEmailsAs:
        """`save-emails-as`, for the Salesforce adapter (it checks for emails saved either way)."""
        return SaveEmailsAs(str(self.rules.get("save_emails_as", SaveEmailsAs.AUTO)))

    @property
    def time_zone(self) -> str:
        """The time zone calendar items are read and written in (the mailbox's, else UTC)."""
        return self.mailbox.time_zone or "UTC"


def typed(key: Key, value: object) -> SettingValue:
    """A validated raw value (as `Settings.value` gives it) in its typed form."""
    if value is None:
        return None
    if key.enum is not None:
        return key.enum(str(value))
    if key.type in (KeyType.ADDRESSES, KeyType.DOMAINS):
        return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()
    if key.type is KeyType.BOOL:
        return bool(value)
    if key.type is KeyType.INT:
        return int(str(value))
    return str(value)


def effective_settings(settings: Settings) -> EffectiveSettings:
    """Resolve the layers of `settings` into one `EffectiveSettings`."""
    rules = {python_name(k): typed(k, settings.value(k.name)) for k in KEYS}
    sources = {k.name: settings.source(k.name) for k in KEYS}
    user, org = settings.user_blocklist, settings.org_blocklist
    return EffectiveSettings(
        settings_file=settings.settings_file,
        rules=MappingProxyType(rules),
        schedule=Schedule(
            interval_minutes=int(str(rules["interval_minutes"])),
            min_api_remaining=int(str(rules["min_api_remaining"])),
            log_level=LogLevel(str(rules["log_level"])),
        ),
        blocklist=BlocklistLayer(
            addresses=user.addresses | org.addresses, domains=user.domains | org.domains
        ),
        mailbox=MailboxConnection(**_connection(settings, "mailbox", MailboxConnection)),
        salesforce=SalesforceConnection(**_connection(settings, "salesforce", SalesforceConnection)),
        sources=MappingProxyType(sources),
    )


def _connection(settings: Settings, table: str, shape: type[object]) -> dict[str, Any]:
    """A connection table's typed values by field name; unset keys keep the dataclass default."""
    keys = {python_name(k): k for k in CONNECTION_TABLES[table]}
    raw = settings.connection(table)
    out: dict[str, Any] = {}
    for spec in fields(shape):  # type: ignore[arg-type]
        key = keys[spec.name]  # a field without a key is a programming error, caught by the tests
        value = typed(key, raw[key.leaf])
        if value is not None:
            out[spec.name] = value
    return out
