"""Carrying out a plan: journal before creates, batched writes per side, links and issues after.

`PlanExecution` works on the session's shared `SessionParts` (the two sides, the state, the retry
policy). Every create is journalled before it is
sent and resolved after (SPEC §7.1), so `_recover` can adopt what a killed session left behind.

What follows a save is journalled too, as an intent of its own, in the same transaction that
records the save (SPEC §7.10): the `Salesforce` label or category on the email (`label` intents)
and, for an email recovery adopted, the check of its sender relation (`email-sender` intents). An
after-step that fails stays journalled, becomes an issue (MAIL-LABEL, SF-SENDER-LINK) and is tried
again at the start of every session until it is done; done, its issue resolves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rgsync.engine import budget
from rgsync.engine.types import (
    Action,
    LinkChange,
    Plan,
    StreamContext,
)
from rgsync.model import (
    LABEL_SAVE,
    LABEL_SYNC_ERROR,
    Create,
    Delete,
    EmailActivity,
    EmailRecipient,
    EventInvitee,
    IssueReport,
    Link,
    MarkLabel,
    RecordKind,
    Side,
    Stream,
    Update,
    WriteResult,
)
from rgsync.providers.base import (
    ApiBudgetError,
    ProviderError,
    RetriableError,
    SavedEmail,
)
from rgsync.session import reports
from rgsync.session.outcome import RunOptions, SessionResult, StreamStopped, StreamSummary
from rgsync.session.parts import SessionParts, UsesParts
from rgsync.session.reconcile import send_reconciled
from rgsync.state import NewIntent

log = logging.getLogger("rgsync.session")

# Journal kinds of after-steps (see the module docstring); every other kind is a create.
LABEL_STEP = "label"
SENDER_STEP = "email-sender"
AFTER_STEPS = frozenset({LABEL_STEP, SENDER_STEP})
EMAIL_GONE = frozenset({"MAIL-NOT-FOUND", "MAIL-GONE"})
# A record Salesforce no longer has (deleted, or never there under that Id).
GONE_CODES = frozenset({"SF-NOT-FOUND", "SF-INVALID_CROSS_REFERENCE_KEY"})
# Salesforce writes handed to the adapter at once: five collections of 200, what one Composite
# request carries, each batch checked against the API budget first (SPEC §7.4, §10).
WRITE_BATCH = 5 * budget.COLLECTION_SIZE


class PlanExecution(UsesParts):
    """The write half of a session (see the module docstring)."""

    def __init__(self, parts: SessionParts) -> None:
        super().__init__(parts)
        # Salesforce refusals of mailbox items since the runner last took them: (stream, mailbox
        # id, code). The emails runner holds back the ones refused for good (`engine.backoff`).
        self.refusals: list[tuple[Stream, str, str]] = []
        # Records the last plan tried to join (a colleague's Event or email) that Salesforce says
        # are gone: a claim naming one must be forgotten (session.shared).
        self.gone_targets: set[str] = set()

    def issue(self, report: IssueReport, now: datetime, options: RunOptions) -> None:
        """Record an issue (deduplicated by the store); a dry run records nothing."""
        self.parts.issue(report, now, options)

    def recover(self, now: datetime) -> None:
        """Adopt or forget creates left pending by a session that was killed, then finish every
        after-step still journalled (an adopted email gets its label and its sender check)."""
        pending = [i for i in self.state.pending_intents() if i.kind not in AFTER_STEPS]
        by_side_kind: dict[tuple[Side, str, Stream], list[Any]] = {}
        for intent in pending:
            by_side_kind.setdefault((Side(intent.side), intent.kind, Stream(intent.stream)), []).append(
                intent
            )
        for (side, kind, stream), intents in by_side_kind.items():
            keys = [i.natural_key for i in intents]
            if side is Side.SALESFORCE:
                found = self.retrier.call(lambda: self.crm.find_existing(RecordKind(kind), keys), "recovery")  # noqa: B023
            else:
                found = self.retrier.call(lambda: self.mailbox.find_tagged(stream, keys), "recovery")  # noqa: B023
            # A kill can leave hundreds of intents: their outcome is written in a few statements
            # (SPEC §10), all in one transaction, so a second kill here repeats the whole group.
            adopted: list[Link] = []
            after_steps: list[NewIntent] = []
            for intent in intents:
                record_id = found.get(intent.natural_key)
                link = intent.payload.get("link")
                if record_id and link:
                    adopted.append(self._link_from_payload(stream, link, record_id))
                    log.info("recovered %s %s as %s", kind, intent.natural_key, record_id)
                    if stream is Stream.EMAILS and side is Side.SALESFORCE:
                        after_steps += _adopted_email_steps(adopted[-1], intent.payload)
            with self.state.transaction():
                self.state.put_links(adopted)
                if after_steps:
                    self.state.add_intents(after_steps)
                self.state.drop_intents(i.id for i in intents)
        self._finish_after_steps(now)

    def _finish_after_steps(self, now: datetime) -> None:
        """Carry out the journalled after-steps: labels, then sender checks (module docstring)."""
        pending = [i for i in self.state.pending_intents(Stream.EMAILS) if i.kind in AFTER_STEPS]
        labels = [
            (i.id, MarkLabel(i.natural_key, str(i.payload.get("label")), bool(i.payload.get("remove"))))
            for i in pending
            if i.kind == LABEL_STEP
        ]
        if labels:
            self._mark(labels, now)
        senders = [i for i in pending if i.kind == SENDER_STEP]
        if senders:
            self._complete_emails(senders, now)

    def _mark(self, labels: Sequence[tuple[int, MarkLabel]], now: datetime) -> None:
        """Set journalled labels; each one set (or whose email is gone) leaves the journal, the
        rest stay for the next session under one MAIL-LABEL issue."""
        marks = [mark for _, mark in labels]
        try:
            results = self.retrier.call(lambda: self.mailbox.mark(marks), "labelling emails")
        except ProviderError as exc:
            log.warning("could not label %d saved emails: %s", len(marks), exc.message)
            self.state.record_issue(reports.labels_failed(len(marks), marks[0].label, exc.message), now)
            return
        refused: list[tuple[MarkLabel, WriteResult]] = []
        with self.state.transaction():
            done: list[int] = []
            for (intent_id, mark), res in zip(labels, results, strict=True):
                if res.ok or res.error_code in EMAIL_GONE:  # a deleted email needs no label
                    done.append(intent_id)
                else:
                    refused.append((mark, res))
            self.state.drop_intents(done)
            if refused:
                mark, res = refused[0]
                message = res.message or res.error_code or "refused"
                self.state.record_issue(reports.labels_failed(len(refused), mark.label, message), now)
            elif not any(i.kind == LABEL_STEP for i in self.state.pending_intents(Stream.EMAILS)):
                self.state.resolve_issues_by_code(reports.LABEL_FAILED, now, Stream.EMAILS)

    def _complete_emails(self, intents: Sequence[Any], now: datetime) -> None:
        """Add missing sender relations to adopted emails; what fails stays journalled (SF-SENDER-LINK)."""
        emails = [
            SavedEmail(
                i.natural_key,
                str(i.payload.get("sender") or ""),
                tuple(str(w) for w in i.payload.get("who_ids") or ()),
            )
            for i in intents
        ]
        try:
            results = self.retrier.call(lambda: self.crm.complete_emails(emails), "completing saved emails")
        except ProviderError as exc:
            log.warning("could not check the sender links of %d saved emails: %s", len(emails), exc.message)
            self.state.record_issue(reports.sender_links_failed(len(emails), exc.message), now)
            return
        with self.state.transaction():
            failed = [res for res in results if not res.ok]
            self.state.drop_intents(i.id for i, res in zip(intents, results, strict=True) if res.ok)
            if failed:
                message = failed[0].message or failed[0].error_code or "refused"
                self.state.record_issue(reports.sender_links_failed(len(failed), message), now)
            elif not any(i.kind == SENDER_STEP for i in self.state.pending_intents(Stream.EMAILS)):
                self.state.resolve_issues_by_code(reports.SENDER_LINK_FAILED, now, Stream.EMAILS)

    @staticmethod
    def _link_from_payload(stream: Stream, link: Mapping[str, Any], new_id: str) -> Link:
        return Link(
            stream=stream,
            mailbox_id=link["mailbox_id"] or new_id,
            salesforce_id=link["salesforce_id"] or new_id,
            origin=Side(link["origin"]),
            fields=dict(link.get("fields", {})),
            natural_key=link.get("natural_key", ""),
        )

    def execute_plan(
        self,
        stream: Stream,
        plan: Plan,
        ctx: StreamContext,
        options: RunOptions,
        summary: StreamSummary,
        result: SessionResult,
    ) -> None:
        self.progress.planned(stream, len(plan.actions))
        self.gone_targets = set()
        summary.skipped.update(s.reason.value for s in plan.skips)
        result.note_skips(plan.skips, dry_run=options.dry_run)
        for report in plan.issues:
            self.issue(report, ctx.now, options)
        if options.dry_run:
            result.planned += plan.actions
            return
        link_only = [a for a in plan.actions if a.write is None]
        with self.state.transaction():
            puts: list[Link] = []
            linked: list[tuple[str, str]] = []
            for action in link_only:
                self._apply_link(stream, action.link, None, summary, puts)
                if action.link and not action.link.remove:
                    summary.linked += 1
                    linked.append((action.link.mailbox_id, action.link.salesforce_id))
            self.state.put_links(puts)
            self.state.resolve_issues_for_items(stream, linked, now=ctx.now)
        sf_actions = [a for a in plan.actions if a.write is not None and a.side is Side.SALESFORCE]
        mailbox_actions = [a for a in plan.actions if a.write is not None and a.side is Side.MAILBOX]
        # Batch by batch, each checked against the API budget before it is sent (SPEC §7.4).
        for start in range(0, len(sf_actions), WRITE_BATCH):
            batch = sf_actions[start : start + WRITE_BATCH]
            calls = budget.calls_for_writes([a.write for a in batch if a.write is not None])
            self._check_budget(ctx, options, calls=calls)
            results, intents = self.send(stream, Side.SALESFORCE, batch, ctx.rules.save_label)
            self._after_writes(stream, batch, results, intents, ctx, options, summary, result)
        if mailbox_actions:
            results, intents = self.send(stream, Side.MAILBOX, mailbox_actions)
            self._after_writes(stream, mailbox_actions, results, intents, ctx, options, summary, result)
        self._check_budget(ctx, options)

    def _journal(
        self, stream: Stream, side: Side, actions: Sequence[Action], label: str = ""
    ) -> dict[int, int]:
        """Record the intent of every create before it is sent; returns action index → intent id.

        An email's intent also says what recovery needs to finish it: the label it gets and who
        its sender relation names (see `_adopted_email_steps`).
        """
        planned: dict[int, NewIntent] = {}
        for n, action in enumerate(actions):
            if isinstance(action.write, Create):
                link = action.link
                payload: dict[str, Any] = {
                    "link": None
                    if link is None
                    else {
                        "mailbox_id": link.mailbox_id,
                        "salesforce_id": link.salesforce_id,
                        "origin": link.origin.value,
                        "fields": dict(link.fields),
                        "natural_key": link.natural_key,
                    }
                }
                record = action.write.record
                if isinstance(record, EmailActivity):
                    payload["label"] = label
                    payload["email"] = _sender_payload(record)
                planned[n] = NewIntent(stream, side, action.write.kind.value, action.write.key, payload)
        # One transaction, committed before anything is sent (SPEC §7.1).
        return dict(zip(planned, self.state.add_intents(list(planned.values())), strict=True))

    def send(
        self, stream: Stream, side: Side, actions: Sequence[Action], label: str = ""
    ) -> tuple[list[WriteResult], dict[int, int]]:
        """Journal the creates, then send every write of one side in batches (the provider chunks).

        Retries and reconciliation of uncertain writes follow `session.reconcile`. On a transient
        failure that outlasts the session's deadline the intents stay pending: the next session
        finds whatever was created and adopts it instead of creating it again.
        """
        intents = self._journal(stream, side, actions, label)
        writes = [a.write for a in actions if a.write is not None]
        try:
            if side is Side.SALESFORCE:
                results = send_reconciled(
                    writes, self.crm.apply, self.crm.find_existing, self.retrier, f"Salesforce {stream.value}"
                )
            else:
                results = send_reconciled(
                    writes,
                    lambda ws: self.mailbox.apply(stream, ws),
                    lambda _kind, keys: self.mailbox.find_tagged(stream, keys),
                    self.retrier,
                    f"mailbox {stream.value}",
                )
        except ApiBudgetError as exc:
            raise StreamStopped("budget", exc.message) from exc
        except RetriableError as exc:
            raise StreamStopped("failed", exc.message) from exc
        return results, intents

    def forget(self, intents: Mapping[int, int]) -> None:
        """Close intents whose records need no link (auto-resolved people are found by address)."""
        self.state.drop_intents(intents.values())

    def _after_writes(
        self,
        stream: Stream,
        actions: Sequence[Action],
        results: Sequence[WriteResult],
        intents: Mapping[int, int],
        ctx: StreamContext,
        options: RunOptions,
        summary: StreamSummary,
        result: SessionResult,
    ) -> None:
        """Record links for what succeeded and issues for what failed, then resolve the journal.

        Each email's label is journalled in the same transaction as its link, then set (`_mark`).
        The rows of the whole batch are written together, a few statements in all (SPEC §10).
        """
        marks: list[MarkLabel] = []
        with self.state.transaction():
            puts: list[Link] = []
            done: list[int] = []
            synced: list[tuple[str, str]] = []
            for n, (action, res) in enumerate(zip(actions, results, strict=True)):
                side = action.side.value
                write = action.write
                if res.ok:
                    if isinstance(write, Create):
                        summary.created[side] += 1
                        if stream is Stream.EMAILS:
                            result.emails_saved += 1
                    elif isinstance(write, Update):
                        summary.updated[side] += 1
                    elif isinstance(write, Delete):
                        summary.deleted[side] += 1
                    self._apply_link(stream, action.link, res.id, summary, puts)
                    if n in intents:
                        done.append(intents[n])
                    mailbox_id = action.link.mailbox_id if action.link else ""
                    salesforce_id = (action.link.salesforce_id if action.link else "") or (res.id or "")
                    synced.append((mailbox_id or "", salesforce_id))
                    if stream is Stream.EMAILS and isinstance(write, Create) and mailbox_id:
                        marks.append(MarkLabel(mailbox_id, ctx.rules.save_label))
                else:
                    summary.failed += 1
                    if n in intents:
                        done.append(intents[n])
                    target = _join_target(write)
                    if target and res.error_code in GONE_CODES:
                        self.gone_targets.add(target)
                    mailbox_id = action.link.mailbox_id if action.link else ""
                    # The items synced so far resolve their issues before this one is recorded,
                    # as when each was written on its own (the same item may have both).
                    self.state.resolve_issues_for_items(stream, synced, now=ctx.now)
                    synced.clear()
                    self.issue(reports.write_failed(stream, action, res), ctx.now, options)
                    if mailbox_id and action.side is Side.SALESFORCE:
                        self.refusals.append((stream, mailbox_id, res.error_code or ""))
                    if stream is Stream.EMAILS and mailbox_id:
                        marks.append(MarkLabel(mailbox_id, LABEL_SYNC_ERROR))
            # The journal rows go first: the links then fill the pages they free instead of
            # growing the file (one transaction, so the order changes nothing else).
            self.state.drop_intents(done)
            self.state.put_links(puts)
            self.state.resolve_issues_for_items(stream, synced, now=ctx.now)
            labels = self._journal_labels(marks)
        if labels:
            self._mark(labels, ctx.now)

    def _journal_labels(self, marks: Sequence[MarkLabel]) -> list[tuple[int, MarkLabel]]:
        planned = [
            NewIntent(
                Stream.EMAILS, Side.MAILBOX, LABEL_STEP, m.mailbox_id, {"label": m.label, "remove": m.remove}
            )
            for m in marks
        ]
        return list(zip(self.state.add_intents(planned), marks, strict=True))

    def _apply_link(
        self,
        stream: Stream,
        change: LinkChange | None,
        new_id: str | None,
        summary: StreamSummary,
        puts: list[Link] | None = None,
    ) -> None:
        """Record a link change; a new link joins `puts` (when given) for the caller to write with
        the rest of its batch, in order: an unlink first writes the links gathered before it."""
        if change is None:
            return
        if change.remove:
            if puts:
                self.state.put_links(puts)
                puts.clear()
            if change.do_not_resave and change.mailbox_id:
                self.state.remember_unlinked(
                    stream, change.mailbox_id, change.salesforce_id, change.do_not_resave
                )
            if change.mailbox_id:
                self.state.remove_link(stream, change.mailbox_id)
            elif change.salesforce_id:
                link = self.state.link_by_salesforce_id(stream, change.salesforce_id)
                if link:
                    self.state.remove_link(stream, link.mailbox_id)
            summary.unlinked += 1
            return
        mailbox_id = change.mailbox_id or (new_id or "")
        salesforce_id = change.salesforce_id or (new_id or "")
        if not mailbox_id or not salesforce_id:
            return
        new = Link(
            stream=stream,
            mailbox_id=mailbox_id,
            salesforce_id=salesforce_id,
            origin=change.origin,
            fields=dict(change.fields),
            natural_key=change.natural_key,
        )
        if puts is None:
            self.state.put_link(new)
        else:
            puts.append(new)

    def _check_budget(self, ctx: StreamContext, options: RunOptions, *, calls: int = 0) -> None:
        """Stop before the next `calls` Salesforce calls would leave less of the org's daily API
        allocation than `min-api-remaining` (SPEC §7.4)."""
        usage = self.crm.usage()
        floor = float(self.settings.schedule.min_api_remaining)
        if usage is not None and not budget.check_budget(usage, floor, calls).allowed:
            needs = f"; the next batch needs {calls} more" if calls else ""
            message = (
                f"Salesforce API allocation is at {usage.remaining_percent:.1f}% left "
                f"({usage.used}/{usage.limit} used{needs}), and rgsync keeps min-api-remaining ({floor:g}%)"
            )
            raise StreamStopped("budget", message)


def _join_target(write: object) -> str:
    """The colleague's record a create joins (an invitee's Event, a recipient's email), or ''."""
    if isinstance(write, Create):
        record = write.record
        if isinstance(record, EventInvitee):
            return record.event_id
        if isinstance(record, EmailRecipient):
            return record.email_id
    return ""


def _sender_payload(record: EmailActivity) -> dict[str, Any]:
    """Who an email's sender relation names: the sender's address when it is not also a recipient
    (a people record among `who_ids` with that address then stands for the sender)."""
    email = record.email
    sender = email.sender.email.lower() if email.sender else ""
    recipients = {a.email.lower() for a in (*email.to, *email.cc, *email.bcc)}
    return {"sender": "" if sender in recipients else sender, "who_ids": list(record.who_ids)}


def _adopted_email_steps(link: Link, payload: Mapping[str, Any]) -> list[NewIntent]:
    """The after-steps of an email found saved by a killed session: its label, and (saved by an
    older rgsync, in two steps) the check of its sender relation."""
    steps: list[NewIntent] = []
    # A journal written before labels were recorded in it gets the default label.
    label = payload.get("label", LABEL_SAVE)
    if label and link.mailbox_id:
        steps.append(NewIntent(Stream.EMAILS, Side.MAILBOX, LABEL_STEP, link.mailbox_id, {"label": label}))
    email = payload.get("email")
    if isinstance(email, dict) and email.get("sender"):
        steps.append(NewIntent(Stream.EMAILS, Side.SALESFORCE, SENDER_STEP, link.salesforce_id, dict(email)))
    return steps
