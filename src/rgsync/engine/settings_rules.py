"""From the effective settings to the engine's `Rules` (SPEC §1), and the rules that read only settings.

The settings layer hands every SPEC §1 value over by its Python name; `rules_from_values` fills the
`Rules` fields of the same names, so a setting that changes a rule needs its schema key and its
`Rules` field, nothing in between. What depends on more than one value is resolved here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from rgsync.engine.types import Blocklist, Rules
from rgsync.model import LABEL_SAVE, LABEL_SAVE_THREAD, EmailMode, SaveEmailsAs, Stream

# `Rules` fields that no single setting fills: they are resolved below from several inputs.
DERIVED = frozenset({"email_mode", "blocklist", "save_label", "thread_label"})


def resolve_email_mode(save_as: SaveEmailsAs, enhanced_email: bool) -> EmailMode:
    """`save-emails-as` resolved against the org (SPEC §1, §3.7): `auto` means EmailMessage when
    the org has Enhanced Email, else Task; `task` and `email-message` are taken as they are.
    The rule is written once, on the choice (`SaveEmailsAs.resolved`), which the Salesforce
    adapter applies too when it looks for emails saved either way."""
    return save_as.resolved(enhanced_email)


def rules_from_values(
    values: Mapping[str, object],
    *,
    enhanced_email: bool,
    blocked_addresses: frozenset[str] = frozenset(),
    blocked_domains: frozenset[str] = frozenset(),
    free_mail_domains: frozenset[str] = frozenset(),
    save_label: str | None = None,
    thread_label: str | None = None,
) -> Rules:
    """The engine's `Rules` from typed setting values by Python name (SPEC §1).

    `blocked_addresses`/`blocked_domains` are the user's and the org policy's blocklists together
    (they add up, SPEC §3.2); `free_mail_domains` is the maintained free-mail list.
    """
    names = {f.name for f in fields(Rules)} - DERIVED
    save_as = values.get("save_emails_as", SaveEmailsAs.AUTO)
    blocklist = Blocklist(
        addresses=blocked_addresses,
        domains=blocked_domains,
        block_free_email_domains=bool(values.get("block_free_email_domains", True)),
        internal_domains=frozenset(str(d).lower() for d in _strings(values.get("internal_domains"))),
        free_mail_domains=free_mail_domains,
    )
    base = Rules(
        email_mode=resolve_email_mode(SaveEmailsAs(str(save_as)), enhanced_email),
        blocklist=blocklist,
        save_label=save_label or LABEL_SAVE,
        thread_label=thread_label or LABEL_SAVE_THREAD,
    )
    # The values are typed by the settings schema; a `Rules` field and its key agree in type (a
    # unit test checks every pair), so the fields are filled by name.
    chosen: dict[str, Any] = {name: value for name, value in values.items() if name in names}
    return replace(base, **chosen)


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple | frozenset) else ()


def down_sync_switches(rules: Rules) -> dict[Stream, bool]:
    """Each two-way stream's down-sync switch (SPEC §4.3, §5, §6): Salesforce → mailbox on or off."""
    return {
        Stream.EVENTS: rules.sync_salesforce_calendar,
        Stream.TASKS: rules.sync_salesforce_tasks,
        Stream.CONTACTS: rules.sync_salesforce_contacts,
    }


def switched_back_on(previous: Mapping[str, object], current: Mapping[Stream, bool]) -> set[Stream]:
    """The streams whose down-sync switch was off at the last session and is on now (SPEC §4.3, §5, §6.2).

    While a switch is off, the Salesforce side's cursor moves past records the mailbox never got
    (or the stream does not run at all), so such a stream must list its whole scope again.
    A stream never recorded (the first session, or a state from before switches were recorded)
    has nothing to catch up: its first read is a full listing anyway.
    """
    return {stream for stream, on in current.items() if on and previous.get(stream.value) is False}
