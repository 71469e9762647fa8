"""Effective settings (SPEC §1) turned into the engine's `Rules`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rgsync.engine.types import (
    AutoResolve,
    Blocklist,
    CalendarDirection,
    ContactsScope,
    Direction,
    Rules,
)
from rgsync.model import (
    LABEL_SAVE,
    LABEL_SAVE_THREAD,
    EmailMode,
    OrgInfo,
    Stream,
)


def rules_from_settings(settings: Any, org: OrgInfo, free_mail_domains: frozenset[str]) -> Rules:
    """Translate effective settings (SPEC §1) into the engine's `Rules`."""
    v = settings.value
    save_as = str(v("save-emails-as"))
    if save_as == "auto":
        mode = EmailMode.EMAIL_MESSAGE if org.enhanced_email else EmailMode.TASK
    else:
        mode = EmailMode(save_as)
    blocklist = Blocklist(
        addresses=frozenset(settings.user_blocklist.addresses | settings.org_blocklist.addresses),
        domains=frozenset(settings.user_blocklist.domains | settings.org_blocklist.domains),
        block_free_email_domains=bool(v("block-free-email-domains")),
        internal_domains=frozenset(d.lower() for d in v("internal-domains")),
        free_mail_domains=free_mail_domains,
    )
    mailbox = settings.mailbox
    return Rules(
        auto_save_emails=bool(v("auto-save-emails")),
        auto_save_threads=bool(v("auto-save-threads")),
        email_mode=mode,
        email_direction=Direction(str(v("email-direction"))),
        auto_resolve=AutoResolve(str(v("auto-resolve"))),
        history_days=int(v("history-days")),
        auto_save_meetings=bool(v("auto-save-meetings")),
        auto_save_appointments=bool(v("auto-save-appointments")),
        sync_salesforce_calendar=bool(v("sync-salesforce-calendar")),
        calendar_direction=CalendarDirection(str(v("calendar-direction"))),
        save_private_events=bool(v("save-private-events")),
        save_unanswered_invitations=bool(v("save-unanswered-invitations")),
        calendar_past_days=int(v("calendar-past-days")),
        calendar_future_days=int(v("calendar-future-days")),
        sync_salesforce_tasks=bool(v("sync-salesforce-tasks")),
        tasks_forbid_remove=bool(v("tasks-forbid-remove")),
        tasks_completed_days=int(v("tasks-completed-days")),
        sync_salesforce_contacts=bool(v("sync-salesforce-contacts")),
        contacts_scope=ContactsScope(str(v("contacts-scope"))),
        contacts_view=str(v("contacts-view")),
        contacts_forbid_remove=bool(v("contacts-forbid-remove")),
        link_to_opportunities=bool(v("link-to-opportunities")),
        blocklist=blocklist,
        max_deletes=int(v("max-deletes")),
        save_label=str(mailbox.get("save-label") or LABEL_SAVE),
        thread_label=str(mailbox.get("thread-label") or LABEL_SAVE_THREAD),
    )


def down_sync_switches(rules: Rules) -> dict[Stream, bool]:
    """Each two-way stream's down-sync switch (SPEC §4.3, §5, §6): Salesforce → mailbox on or off."""
    return {
        Stream.EVENTS: rules.sync_salesforce_calendar,
        Stream.TASKS: rules.sync_salesforce_tasks,
        Stream.CONTACTS: rules.sync_salesforce_contacts,
    }


def switched_back_on(previous: Mapping[str, object], current: Mapping[Stream, bool]) -> set[Stream]:
    """The streams whose down-sync switch was off at the last session and is on now.

    While a switch is off, the Salesforce side's cursor moves past records the mailbox never got
    (or the stream does not run at all), so such a stream must list its whole scope again.
    A stream never recorded (the first session, or a state from before switches were recorded)
    has nothing to catch up: its first read is a full listing anyway.
    """
    return {stream for stream, on in current.items() if on and previous.get(stream.value) is False}


def free_mail_domains() -> frozenset[str]:
    """Every free mail domain rgsync knows: the pinned package's list plus rgsync's own extras."""
    from rgsync.settings.free_mail import free_mail_domains as known

    return known()
