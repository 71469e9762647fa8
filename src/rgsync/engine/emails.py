"""Planning of the emails stream: which mailbox emails are saved to Salesforce, and how (SPEC §3).

The session calls, in this order, with the same emails, `tracked` threads and manual requests:

1. `email_lookups` → the addresses and Message-IDs to look up in the org (batched SOQL);
2. `auto_resolve_domains` → domains whose Accounts (by Website) auto-resolve needs;
3. `plan_auto_resolve` → Account/Lead/Contact creates; the session executes them and adds the
   new people records to the directory;
4. `plan_emails` → the Plan: one create (or link to an already saved copy) per email to save, a
   skip with its reason for every other email.

An email goes through these rules (first match decides):

* already linked in the state store → ignored (no action, no skip row);
* not in Inbox/Sent → not-inbox-or-sent; unreadable → unreadable; service message → service-message
  (even when saved manually: Salesforce gets no bounces or meeting responses);
* in a tracked thread (`auto-save-threads` on) → saved with the thread's links, whoever it is now
  addressed to, unless it is only internal/blocklisted people (SPEC §3.6);
* the automatic rules: auto-save-off, direction, outside-history-window (first session only),
  internal/blocklisted (nobody external left), no-related-record, no-opportunity-or-account;
* if the automatic rules would not save it but the user asked for it (label `Salesforce` or
  `Salesforce Thread`, or `rgsync save`), it is saved as a manual save: linked to its
  non-blocklisted people records and their Account, never to an Opportunity by rule, never with
  auto-resolve. An email the automatic rules take anyway keeps the rule's links even when it is
  also labelled (RULE-CASES H1), so a label never makes a save poorer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from rgsync.engine.autoresolve import plan_new_records
from rgsync.engine.blocklist import Participants, is_free_mail, normalise_address, split_participants
from rgsync.engine.email_items import is_service_message, message_key
from rgsync.engine.linking import LinkChoice, choose_links, resolve_people
from rgsync.engine.types import (
    Action,
    AutoResolve,
    Direction,
    Directory,
    LinkChange,
    Plan,
    Skip,
    SkipReason,
    StreamContext,
    ThreadLinks,
)
from rgsync.model import (
    Address,
    Create,
    EmailActivity,
    EmailItem,
    Folder,
    MarkLabel,
    RecordKind,
    Side,
    Stream,
)

__all__ = [
    "EmailNeeds",
    "auto_resolve_domains",
    "email_lookups",
    "is_service_message",
    "message_key",
    "plan_auto_resolve",
    "plan_emails",
]


@dataclass(frozen=True)
class EmailNeeds:
    """What the session must look up in the org before planning (SPEC §3.3, §3.7).

    `addresses`: external participants to resolve among Contacts and unconverted Leads.
    `message_ids`: natural keys (see `message_key`) to look for among emails already saved.
    """

    addresses: frozenset[str]
    message_ids: frozenset[str]


@dataclass(frozen=True)
class _Outcome:
    """The decision for one email: saved with `links`, or skipped for `reason`."""

    links: LinkChoice | None = None
    reason: SkipReason | None = None


class _Batch:
    """The rules applied to one batch of emails, shared by the public functions of this module."""

    def __init__(
        self,
        ctx: StreamContext,
        tracked: Mapping[str, ThreadLinks],
        manual: Collection[str],
        manual_thread: Collection[str],
    ) -> None:
        self.ctx = ctx
        self.rules = ctx.rules
        self.tracked: dict[str, ThreadLinks] = dict(tracked) if ctx.rules.auto_save_threads else {}
        self.manual_ids = frozenset(manual) | frozenset(manual_thread)
        self.thread_ids = frozenset(manual_thread)

    def is_linked(self, email: EmailItem) -> bool:
        return email.mailbox_id in self.ctx.links

    def is_manual(self, email: EmailItem) -> bool:
        """Saved on the user's request: a save label or `rgsync save` (SPEC §3.6)."""
        labels = email.labels
        return (
            self.rules.save_label in labels
            or self.rules.thread_label in labels
            or email.mailbox_id in self.manual_ids
        )

    def starts_thread(self, email: EmailItem) -> bool:
        """Asked to be tracked, and thread tracking is on (otherwise it is a plain manual save)."""
        if not self.rules.auto_save_threads or not email.thread_id:
            return False
        return self.rules.thread_label in email.labels or email.mailbox_id in self.thread_ids

    def thread_links(self, email: EmailItem) -> ThreadLinks | None:
        return self.tracked.get(email.thread_id) if email.thread_id else None

    def common_reason(self, email: EmailItem) -> SkipReason | None:
        """Rules no save escapes, manual or automatic (SPEC §3.1, §7.8)."""
        if email.folder not in (Folder.INBOX, Folder.SENT):
            return SkipReason.NOT_INBOX_OR_SENT
        if email.unreadable:
            return SkipReason.UNREADABLE
        if is_service_message(email):
            return SkipReason.SERVICE_MESSAGE
        return None

    def auto_reason(self, email: EmailItem) -> SkipReason | None:
        """The switches of automatic saving: auto-save, direction, history window (SPEC §1, §3.1)."""
        if not self.rules.auto_save_emails:
            return SkipReason.AUTO_SAVE_OFF
        direction = self.rules.email_direction
        if (direction is Direction.INBOUND and email.folder is not Folder.INBOX) or (
            direction is Direction.OUTBOUND and email.folder is not Folder.SENT
        ):
            return SkipReason.DIRECTION
        # Only the first session looks back; later sessions take whatever arrived since the cursor.
        if self.ctx.first_session and email.sent_at < self.ctx.now - timedelta(days=self.rules.history_days):
            return SkipReason.OUTSIDE_HISTORY_WINDOW
        return None

    def participants(self, email: EmailItem) -> Participants:
        return split_participants(email.participants, self.ctx.identity, self.rules.blocklist)

    def decide(self, email: EmailItem, directory: Directory) -> _Outcome:
        """Apply every rule to one email not yet linked."""
        reason = self.common_reason(email)
        if reason is not None:
            return _Outcome(reason=reason)
        manual = self.is_manual(email)
        thread = self.thread_links(email)
        if thread is not None:
            parts = self.participants(email)
            if not parts.external and not manual:
                return _Outcome(reason=_nobody_reason(parts))
            return _Outcome(links=LinkChoice(thread.who_ids, thread.what_id))

        reason = self.auto_reason(email)
        if reason is None:
            outcome = self._by_rule(email, directory)
            if outcome.links is not None or not manual:
                return outcome
        elif not manual:
            return _Outcome(reason=reason)
        people, _unresolved = resolve_people(self.participants(email).external, directory)
        links = choose_links(people, directory, self.ctx, by_rule=False)
        return _Outcome(links=links or LinkChoice((), None))

    def _by_rule(self, email: EmailItem, directory: Directory) -> _Outcome:
        parts = self.participants(email)
        if not parts.external:
            return _Outcome(reason=_nobody_reason(parts))
        people, _unresolved = resolve_people(parts.external, directory)
        if not people:
            return _Outcome(reason=SkipReason.NO_RELATED_RECORD)
        links = choose_links(people, directory, self.ctx)
        if links is None:
            return _Outcome(reason=SkipReason.NO_OPPORTUNITY_OR_ACCOUNT)
        return _Outcome(links=links)

    def threads_started(self, emails: Sequence[EmailItem]) -> frozenset[str]:
        """Threads this batch starts tracking: their other emails reuse links, never resolve."""
        return frozenset(
            e.thread_id for e in emails if self.starts_thread(e) and self.common_reason(e) is None
        )


def _nobody_reason(parts: Participants) -> SkipReason:
    """Why nobody is left to link: a blocklisted outsider is the more telling reason."""
    if parts.blocked:
        return SkipReason.BLOCKLISTED
    if parts.internal:
        return SkipReason.INTERNAL
    return SkipReason.NO_RELATED_RECORD


def _saved_keys(directory: Directory, ctx: StreamContext) -> dict[str, str]:
    """Message-ID → Salesforce id of emails already saved: by a colleague, or by us for another copy."""
    keys = {
        link.natural_key: link.salesforce_id for link in ctx.links.values() if link.stream is Stream.EMAILS
    }
    keys.pop("", None)
    keys.update(directory.existing_emails)
    return keys


def email_lookups(
    emails: Sequence[EmailItem],
    ctx: StreamContext,
    tracked: Mapping[str, ThreadLinks],
    manual: Collection[str] = (),
    *,
    manual_thread: Collection[str] = (),
) -> EmailNeeds:
    """The addresses and Message-IDs the org must be asked about before planning these emails.

    Emails that are skipped before resolution (wrong folder, service message, auto-save off and not
    manual, …) cost no lookup; emails of tracked threads need their Message-ID only.
    """
    batch = _Batch(ctx, tracked, manual, manual_thread)
    addresses: set[str] = set()
    message_ids: set[str] = set()
    for email in emails:
        if batch.common_reason(email) is not None:
            continue
        if batch.is_linked(email):
            # A saved email newly marked `Salesforce Thread` starts tracking with freshly chosen links.
            if batch.starts_thread(email) and batch.thread_links(email) is None:
                addresses.update(batch.participants(email).external)
            continue
        message_ids.add(message_key(email))
        if batch.thread_links(email) is not None:
            continue
        if batch.auto_reason(email) is None or batch.is_manual(email):
            addresses.update(batch.participants(email).external)
    return EmailNeeds(frozenset(addresses), frozenset(message_ids))


def _auto_resolve_candidates(
    emails: Sequence[EmailItem],
    directory: Directory,
    ctx: StreamContext,
    tracked: Mapping[str, ThreadLinks],
    manual: Collection[str],
    manual_thread: Collection[str],
) -> list[Address]:
    """Unresolved external addresses of emails saved by rule, with the best display name seen (SPEC §3.4)."""
    if ctx.rules.auto_resolve is AutoResolve.OFF:
        return []
    batch = _Batch(ctx, tracked, manual, manual_thread)
    started = batch.threads_started(emails)
    saved = _saved_keys(directory, ctx)
    names: dict[str, str] = {}
    for email in emails:
        if (
            batch.is_linked(email)
            or batch.common_reason(email) is not None
            or batch.is_manual(email)
            or batch.thread_links(email) is not None
            or (batch.rules.auto_save_threads and email.thread_id in started)
            or batch.auto_reason(email) is not None
            or message_key(email) in saved
        ):
            continue
        display = {normalise_address(a.email): a.name.strip() for a in reversed(email.participants)}
        _people, unresolved = resolve_people(batch.participants(email).external, directory)
        for address in unresolved:
            # Free mail is never auto-resolved, even when it is not blocklisted.
            if is_free_mail(address, ctx.rules.blocklist):
                continue
            if not names.get(address):
                names[address] = display.get(address, "")
    return [Address(address, name) for address, name in names.items()]


def auto_resolve_domains(
    emails: Sequence[EmailItem],
    directory: Directory,
    ctx: StreamContext,
    tracked: Mapping[str, ThreadLinks],
    manual: Collection[str] = (),
    *,
    manual_thread: Collection[str] = (),
) -> frozenset[str]:
    """Domains of the addresses auto-resolve would create people for (SPEC §3.4).

    The session looks up Accounts whose Website has these domains and hands them in as
    `Directory.accounts_by_domain` before calling `plan_auto_resolve`. Empty when auto-resolve is off.
    """
    candidates = _auto_resolve_candidates(emails, directory, ctx, tracked, manual, manual_thread)
    return frozenset(a.domain for a in candidates)


def plan_auto_resolve(
    emails: Sequence[EmailItem],
    directory: Directory,
    ctx: StreamContext,
    tracked: Mapping[str, ThreadLinks],
    manual: Collection[str] = (),
    *,
    manual_thread: Collection[str] = (),
) -> list[Action]:
    """The Accounts, Leads or Contacts auto-resolve creates for these emails (SPEC §3.4).

    Accounts come first (one per domain without a matching Account, contact mode only), then one
    Lead or Contact per address. A Contact whose Account is created in the same batch carries
    `account_id=None` and `company=<domain>`, the `key` of that Account's create: the session sets
    the new Account's id on it after executing the Accounts. Nothing for free-mail domains,
    internal or blocklisted addresses, emails skipped anyway, manual saves or tracked threads.
    """
    candidates = _auto_resolve_candidates(emails, directory, ctx, tracked, manual, manual_thread)
    return plan_new_records(candidates, directory, ctx)


def plan_emails(
    emails: Sequence[EmailItem],
    directory: Directory,
    ctx: StreamContext,
    tracked: Mapping[str, ThreadLinks],
    manual: Collection[str] = (),
    manual_thread: Collection[str] = (),
) -> Plan:
    """Plan the emails stream (SPEC §3): one action per email to save, a skip for every other one.

    `directory` already holds the people auto-resolve created. `tracked` maps thread ids to the
    links of threads tracked in earlier sessions; threads that start tracking now are returned in
    `plan.tracked_threads` for the session to store. `manual` / `manual_thread` are mailbox ids the
    user saved with `rgsync save` (with `--thread`).

    A saved email yields Create(EMAIL, key=Message-ID) with a LinkChange whose Salesforce id is
    filled in by the create; one already saved in the org (a colleague's, or another copy of ours)
    yields a link-only action to it. Copies of one Message-ID in the batch (Inbox and Sent) are
    saved once, the Sent copy preferred; the others are skipped as already-saved.
    `plan.labels` holds the save label for each email with an action: apply it once that action
    succeeded.
    """
    batch = _Batch(ctx, tracked, manual, manual_thread)
    plan = Plan()
    # Thread starters first, so the other emails of their thread in this batch reuse their links.
    order = sorted(range(len(emails)), key=lambda i: not batch.starts_thread(emails[i]))
    outcomes: dict[int, _Outcome] = {}
    for i in order:
        email = emails[i]
        if batch.is_linked(email):
            if batch.starts_thread(email) and batch.thread_links(email) is None:
                _track(batch, plan, email, batch.decide(email, directory).links)
            continue
        outcome = batch.decide(email, directory)
        outcomes[i] = outcome
        if batch.starts_thread(email) and batch.thread_links(email) is None:
            _track(batch, plan, email, outcome.links)

    keys = {i: message_key(emails[i]) for i in outcomes}
    chosen = _one_copy_per_key(emails, outcomes, keys)
    saved = _saved_keys(directory, ctx)
    for i in sorted(outcomes):
        email, outcome = emails[i], outcomes[i]
        if outcome.links is None or chosen[keys[i]] != i:
            reason = outcome.reason or SkipReason.ALREADY_SAVED
            plan.skips.append(Skip(Stream.EMAILS, email.mailbox_id, email.subject, reason))
            continue
        plan.actions.append(_save_action(email, keys[i], outcome.links, saved.get(keys[i]), ctx))
        if ctx.rules.save_label not in email.labels:
            plan.labels.append(MarkLabel(email.mailbox_id, ctx.rules.save_label))
    return plan


def _track(batch: _Batch, plan: Plan, email: EmailItem, links: LinkChoice | None) -> None:
    """Start tracking the email's thread with the links it was saved with."""
    if links is None:
        return
    thread = ThreadLinks(email.thread_id, links.who_ids, links.what_id)
    batch.tracked[email.thread_id] = thread
    plan.tracked_threads.append(thread)


def _one_copy_per_key(
    emails: Sequence[EmailItem], outcomes: Mapping[int, _Outcome], keys: Mapping[int, str]
) -> dict[str, int]:
    """For each Message-ID to save, the index of the copy that is saved: Sent first, then input order."""
    chosen: dict[str, int] = {}
    for i in sorted(outcomes):
        if outcomes[i].links is None:
            continue
        key = keys[i]
        if key not in chosen or (
            emails[i].folder is Folder.SENT and emails[chosen[key]].folder is not Folder.SENT
        ):
            chosen[key] = i
    return chosen


def _save_action(
    email: EmailItem, key: str, links: LinkChoice, existing_id: str | None, ctx: StreamContext
) -> Action:
    """The create of one email, or a link to the copy already in the org (SPEC §3.7)."""
    if existing_id is not None:
        link = LinkChange(email.mailbox_id, existing_id, Side.MAILBOX, natural_key=key)
        return Action(Stream.EMAILS, Side.SALESFORCE, None, link, email.subject)
    # The record carries the key it is created under, so crash recovery finds it by Message-ID.
    record_email = email if email.message_id == key else replace(email, message_id=key)
    activity = EmailActivity(
        record_email, ctx.rules.email_mode, links.who_ids, links.what_id, owner_id=ctx.identity.user_id
    )
    link = LinkChange(email.mailbox_id, "", Side.MAILBOX, natural_key=key)
    return Action(
        Stream.EMAILS, Side.SALESFORCE, Create(RecordKind.EMAIL, key, activity), link, email.subject
    )
