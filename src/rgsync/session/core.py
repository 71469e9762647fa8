"""One sync session (`rgsync run`): the one place that joins settings, state, providers and engine.

The order is SPEC §2: lock → pause → due time → settings → per stream (read changes, gather
lookups, plan, guard, write, record) → cursors last → session record → summary. Every create is
journalled before it is sent and the journal is resolved after, so a session killed at any instant
and rerun neither duplicates nor loses anything (SPEC §7.1): pending intents are adopted by their
natural key at the start of the next session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from rgsync.engine.types import (
    Identity,
    Rules,
)
from rgsync.model import (
    OrgInfo,
    Page,
    Side,
    Stream,
)
from rgsync.providers.base import (
    ApiBudgetError,
    Crm,
    CrmReadOptions,
    FatalError,
    Mailbox,
    MailboxReadOptions,
    RetriableError,
)
from rgsync.session import reports
from rgsync.session.emails import EmailStream
from rgsync.session.outcome import RunOptions, SessionResult, StreamStopped, StreamSummary
from rgsync.session.progress import NO_PROGRESS, ProgressReporter
from rgsync.session.retry import OUTAGE_CODES, OutageError, Retrier, RetryPolicy
from rgsync.session.rules import (
    down_sync_switches,
    free_mail_domains,
    rules_from_settings,
    switched_back_on,
)
from rgsync.session.two_way import TwoWayStream
from rgsync.state import StateStore, StoredIssue

log = logging.getLogger("rgsync.session")

ORG_INFO_MAX_AGE = timedelta(days=1)
# Back-off after the API budget guard stops a session (SPEC §7.4): 30 min, 2.5 h, 4.5 h, then 4.5 h.
BUDGET_BACKOFF = (timedelta(minutes=30), timedelta(hours=2, minutes=30), timedelta(hours=4, minutes=30))
TWO_WAY = (Stream.EVENTS, Stream.TASKS, Stream.CONTACTS)


def with_fix(exc: FatalError) -> str:
    """The failure in one line that also names the fix (the `rgsync connect …` to run, …)."""
    if not exc.advice or exc.advice in exc.message or "rgsync connect" in exc.message:
        return exc.message
    return f"{exc.message}; {exc.advice}"


class SyncSession(EmailStream, TwoWayStream):
    """Runs sessions for one profile over one mailbox and one org.

    The caller holds the profile lock. `clock` gives "now" (injected in tests); `retry` is the one
    back-off policy for transient failures (default: `RetryPolicy.from_environment()`; tests pass
    one that does not sleep). Adapters never retry on their own.
    """

    def __init__(
        self,
        settings: Any,
        state: StateStore,
        mailbox: Mailbox,
        crm: Crm,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry: RetryPolicy | None = None,
        free_mail: frozenset[str] | None = None,
        time_zone: str = "UTC",
        progress: ProgressReporter = NO_PROGRESS,
    ) -> None:
        self.settings = settings
        self.state = state
        self.mailbox = mailbox
        self.crm = crm
        self.clock = clock
        self.retry = retry or RetryPolicy.from_environment()
        self.retrier = Retrier(self.retry)
        self.free_mail = free_mail if free_mail is not None else free_mail_domains()
        self.time_zone = time_zone
        self.progress = progress
        # Issues whose items this session re-queued, and the emails among them (`issues retry`).
        self.retry_taken_up: list[StoredIssue] = []
        self.retry_emails: tuple[str, ...] = ()

    def run(self, options: RunOptions | None = None) -> SessionResult:
        """Run one session (SPEC §2). The caller must hold the profile lock."""
        options = options or RunOptions()
        now = self.clock()
        if self.state.paused and not options.manual:
            return SessionResult(status="paused", message="rgsync is paused; `rgsync resume` to sync again")
        due = self.state.get_meta("next_due_at")
        if not options.force and not options.dry_run and not options.manual and due:
            due_at = datetime.fromisoformat(str(due))
            if now < due_at:
                return SessionResult(status="not-due", next_due_at=due_at)

        result = SessionResult(status="dry-run" if options.dry_run else "completed", started_at=now)
        if not options.dry_run:
            result.session_id = self.state.start_session(now, dry_run=False)
        mailbox_calls0, crm_calls0 = self.mailbox.api_calls, self.crm.api_calls
        self.retrier = Retrier(self.retry)  # the deadline is per session
        try:
            self._run_streams(now, options, result)
        except FatalError as exc:
            result.status = "failed"
            result.message = with_fix(exc)
            self._issue(reports.fatal(exc), now, options)
        except RetriableError as exc:
            # Not retried here (a caller let it through): the next session starts from the old cursors.
            result.status = "failed"
            result.message = f"a service did not answer: {exc.message}"
        finally:
            result.ended_at = self.clock()
            result.api_calls = {
                Side.MAILBOX.value: self.mailbox.api_calls - mailbox_calls0,
                Side.SALESFORCE.value: self.crm.api_calls - crm_calls0,
            }
        if not options.dry_run:
            if result.status == "completed" and self.retry_taken_up:
                self.state.retry_taken(i.id for i in self.retry_taken_up)
            if result.status == "completed":
                # The services answered this time: an outage reported by an earlier run is over.
                for code in OUTAGE_CODES:
                    self.state.resolve_issues_by_code(code, result.ended_at or now)
            self._remember_usage()
            self._schedule_next(result, now)
            # The session row already holds id, times and status: keep what only the run knows.
            full = result.to_json()
            summary = {"streams": full["streams"], "api_calls": full["api_calls"]}
            if result.message:
                summary["message"] = result.message
            self.state.finish_session(result.session_id or 0, result.ended_at, result.status, summary)
        result.open_issues = self.state.open_issue_count()
        return result

    def _run_streams(self, now: datetime, options: RunOptions, result: SessionResult) -> None:
        org = self._org_info(now, options)
        self.crm.use_org_info(org)
        rules = rules_from_settings(self.settings, org, self.free_mail)
        identity = Identity(
            user_id=org.user_id,
            address=self.mailbox.address,
            aliases=frozenset(self.mailbox.aliases),
            time_zone=self.time_zone,
        )
        if not options.dry_run:
            self._recover(now)
        window_start = now - timedelta(days=rules.calendar_past_days)
        window_end = now + timedelta(days=rules.calendar_future_days)
        crm_pages: dict[Stream, list[Page]] = {}
        two_way = [s for s in TWO_WAY if self._stream_active(s, rules)] if not options.manual else []
        self.retry_taken_up = self._take_up_retries(options)
        restarted = self._down_sync_restarts(rules, options)
        if two_way:
            cursors = {s: None if s in restarted else self.state.cursor(s, Side.SALESFORCE) for s in two_way}
            crm_options = CrmReadOptions(
                user_id=org.user_id,
                calendar_start=window_start,
                calendar_end=window_end,
                tasks_since=now - timedelta(days=rules.tasks_completed_days),
                contacts_scope=rules.contacts_scope.value,
                contacts_view=rules.contacts_view,
                streams=frozenset(two_way),
            )
            try:
                self._check_budget_for_reads()
                crm_pages = self.retrier.call(
                    lambda: self.crm.changes(cursors, crm_options), "reading Salesforce"
                )
            except (ApiBudgetError, StreamStopped) as exc:
                message = exc.message
                self._budget_stop(message, now, options)
                for s in [Stream.EMAILS, *two_way]:
                    result.streams[s] = StreamSummary(s, status="budget", error=message)
                result.status = "failed"
                result.message = message
                return
            except OutageError:
                raise
            except RetriableError as exc:
                for s in two_way:
                    result.streams[s] = StreamSummary(s, status="failed", error=exc.message)
                result.status = "failed"
                two_way = []
        mailbox_options = MailboxReadOptions(
            email_since=now - timedelta(days=rules.history_days),
            calendar_start=window_start,
            calendar_end=window_end,
            saved=lambda ids: self.state.links_for(Stream.EMAILS, ids).keys(),
            thread_label=rules.thread_label,
        )
        # The emails stream always runs: manual saves by label work with auto-save off (SPEC §3.6).
        for stream in [Stream.EMAILS, *two_way]:
            summary = StreamSummary(stream)
            result.streams[stream] = summary
            self.progress.stream_started(stream, summary)
            try:
                if stream is Stream.EMAILS:
                    self._emails(rules, identity, mailbox_options, now, options, summary, result)
                else:
                    self._two_way(
                        stream,
                        rules,
                        identity,
                        mailbox_options,
                        crm_pages.get(stream, []),
                        now,
                        options,
                        summary,
                        result,
                    )
            except StreamStopped as stop:
                summary.status = stop.status
                summary.error = stop.message
                if stop.status in ("failed", "budget"):
                    result.status = "failed"
                    result.message = result.message or stop.message
                if stop.status == "budget":
                    # The org's allocation is shared by every stream: stop them all and back off.
                    self._budget_stop(stop.message, now, options)
                    break
            finally:
                self.progress.stream_finished(stream, summary)

    def _take_up_retries(self, options: RunOptions) -> list[StoredIssue]:
        """Re-queue the items behind the issues the user asked to retry (`rgsync issues retry`).

        An email is read again by its mailbox id and planned as if it had just arrived; an item of
        a two-way stream comes back with a full listing of that stream on both sides (diffed
        against the links, so nothing linked is touched twice). The requests are closed when the
        session ends; an item that fails again updates its issue.
        """
        if options.dry_run or options.manual:
            self.retry_emails = ()
            return []
        retries = self.state.retry_requests()
        self.retry_emails = tuple(
            dict.fromkeys(
                i.item.mailbox_id for i in retries if i.stream is Stream.EMAILS and i.item.mailbox_id
            )
        )
        with self.state.transaction():
            for stream in {i.stream for i in retries if i.stream in TWO_WAY}:
                assert stream is not None
                self.state.set_cursor(stream, Side.SALESFORCE, None)
                self.state.set_cursor(stream, Side.MAILBOX, None)
        return retries

    def _down_sync_restarts(self, rules: Rules, options: RunOptions) -> set[Stream]:
        """Streams whose down-sync was switched back on since the last session: their Salesforce
        cursor is dropped, so this session lists the whole scope and the mailbox gets back what
        the switch-off removed (SPEC §4.3, §5, §6.2). The cursor is dropped in the state store
        at once, so a session that fails before committing lists again next time."""
        current = down_sync_switches(rules)
        recorded = self.state.get_meta("down_sync_switches")
        previous = recorded if isinstance(recorded, dict) else {}
        restarted = switched_back_on(previous, current)
        if not options.dry_run and not options.manual:
            with self.state.transaction():
                for stream in restarted:
                    self.state.set_cursor(stream, Side.SALESFORCE, None)
                self.state.set_meta("down_sync_switches", {s.value: on for s, on in current.items()})
        return restarted

    def _stream_active(self, stream: Stream, rules: Rules) -> bool:
        """A stream runs when its switch is on, or when it still has links to clean up after a switch-off."""
        if stream is Stream.EVENTS:
            switched_on = (
                rules.sync_salesforce_calendar or rules.auto_save_meetings or rules.auto_save_appointments
            )
        elif stream is Stream.TASKS:
            switched_on = rules.sync_salesforce_tasks
        else:
            switched_on = rules.sync_salesforce_contacts
        return switched_on or bool(self.state.links(stream))

    def _org_info(self, now: datetime, options: RunOptions) -> OrgInfo:
        """The user's Id and org capabilities, from the state store unless older than a day."""
        cached = self.state.get_meta("org_info")
        if isinstance(cached, dict) and cached.get("fetched_at"):
            fetched = datetime.fromisoformat(cached["fetched_at"])
            if now - fetched < ORG_INFO_MAX_AGE:
                return OrgInfo(
                    user_id=cached["user_id"],
                    user_email=cached.get("user_email", ""),
                    enhanced_email=bool(cached.get("enhanced_email", True)),
                    shared_activities=bool(cached.get("shared_activities", True)),
                    external_id_fields=dict(cached.get("external_id_fields", {})),
                    fetched_at=fetched,
                )
        info = self.retrier.call(self.crm.org_info, "reading the org")
        if not options.dry_run:
            self.state.set_meta(
                "org_info",
                {
                    "user_id": info.user_id,
                    "user_email": info.user_email,
                    "enhanced_email": info.enhanced_email,
                    "shared_activities": info.shared_activities,
                    "external_id_fields": dict(info.external_id_fields),
                    "fetched_at": now.isoformat(),
                },
            )
        return info

    def _budget_stop(self, message: str, now: datetime, options: RunOptions) -> None:
        self._issue(reports.api_budget(message), now, options)
        if not options.dry_run:
            count = int(str(self.state.get_meta("budget_backoff_count", 0) or 0))
            self.state.set_meta("budget_backoff_count", count + 1)
            self.state.set_meta(
                "budget_backoff_until",
                (now + BUDGET_BACKOFF[min(count, len(BUDGET_BACKOFF) - 1)]).isoformat(),
            )

    def _schedule_next(self, result: SessionResult, now: datetime) -> None:
        """The adaptive interval (SPEC §7.2): idle sessions double the gap up to 4× the interval."""
        interval = timedelta(minutes=int(self.settings.value("interval-minutes")))
        gap_minutes = self.state.get_meta("gap_minutes")
        if result.changes or gap_minutes is None:
            gap = interval
        else:
            gap = min(timedelta(minutes=float(str(gap_minutes))) * 2, interval * 4)
        if result.status == "failed" or any(s.status == "budget" for s in result.streams.values()):
            gap = interval
        self.state.set_meta("gap_minutes", gap.total_seconds() / 60)
        next_due = now + gap
        backoff_until = self.state.get_meta("budget_backoff_until")
        if backoff_until and any(s.status == "budget" for s in result.streams.values()):
            next_due = max(next_due, datetime.fromisoformat(str(backoff_until)))
        elif not any(s.status == "budget" for s in result.streams.values()):
            self.state.set_meta("budget_backoff_count", 0)
        self.state.set_meta("next_due_at", next_due.isoformat())
        result.next_due_at = next_due
