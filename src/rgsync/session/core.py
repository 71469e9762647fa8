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
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rgsync.engine import schedule
from rgsync.engine.blocklist import forget_addresses
from rgsync.engine.streams import TWO_WAY, streams_to_run
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
from rgsync.session.collector import fewer_collections
from rgsync.session.emails import EmailRunner
from rgsync.session.execute import PlanExecution
from rgsync.session.outcome import RunOptions, SessionResult, StreamStopped, StreamSummary
from rgsync.session.parts import SessionParts
from rgsync.session.progress import NO_PROGRESS, ProgressReporter
from rgsync.session.reading import StreamReading
from rgsync.session.retry import OUTAGE_CODES, OutageError, Retrier, RetryPolicy
from rgsync.session.rules import (
    down_sync_switches,
    free_mail_domains,
    rules_from_settings,
    switched_back_on,
)
from rgsync.session.shared import SharedRecords
from rgsync.session.two_way import TwoWayRunner
from rgsync.settings import EffectiveSettings
from rgsync.state import StateStore, StoredIssue

log = logging.getLogger("rgsync.session")

ORG_INFO_MAX_AGE = timedelta(days=1)


def with_fix(exc: FatalError) -> str:
    """The failure in one line that also names the fix (the `rgsync connect …` to run, …)."""
    if not exc.advice or exc.advice in exc.message or "rgsync connect" in exc.message:
        return exc.message
    return f"{exc.message}; {exc.advice}"


class SyncSession:
    """Runs sessions for one profile over one mailbox and one org.

    The caller holds the profile lock. `clock` gives "now" (injected in tests); `retry` is the one
    back-off policy for transient failures (default: `RetryPolicy.from_environment()`; tests pass
    one that does not sleep). Adapters never retry on their own. `shared` holds the claims on
    meetings and emails colleagues share (a fleet, `session.shared`); None for a single user.
    """

    def __init__(
        self,
        settings: EffectiveSettings,
        state: StateStore,
        mailbox: Mailbox,
        crm: Crm,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry: RetryPolicy | None = None,
        free_mail: frozenset[str] | None = None,
        time_zone: str = "UTC",
        progress: ProgressReporter = NO_PROGRESS,
        shared: SharedRecords | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.mailbox = mailbox
        self.crm = crm
        self.clock = clock
        self.retry = retry or RetryPolicy.from_environment()
        # One explicit object for the two sides, the state and the retry policy, shared by the
        # reads, the writes and the stream runners.
        self.parts = SessionParts(settings, state, mailbox, crm, Retrier(self.retry), clock, progress, shared)
        self.reading = StreamReading(self.parts)
        self.writing = PlanExecution(self.parts)
        self.emails = EmailRunner(self.parts, self.reading, self.writing)
        self.two_way = TwoWayRunner(self.parts, self.reading, self.writing)
        self.free_mail = free_mail if free_mail is not None else free_mail_domains()
        self.time_zone = time_zone
        self.progress = progress
        # Issues whose items this session re-queued, and the emails among them (`issues retry`).
        self.retry_taken_up: list[StoredIssue] = []

    def run(self, options: RunOptions | None = None) -> SessionResult:
        """Run one session (SPEC §2). The caller must hold the profile lock."""
        options = options or RunOptions()
        now = self.clock()
        if self.state.paused and not options.manual:
            return SessionResult(status="paused", message="rgsync is paused; `rgsync resume` to sync again")
        due = self.state.get_meta("next_due_at")
        due_at = datetime.fromisoformat(str(due)) if due else None
        forced = bool(options.force or options.dry_run or options.manual)
        if not schedule.is_due(now, due_at, forced=forced):
            return SessionResult(status="not-due", next_due_at=due_at)

        result = SessionResult(status="dry-run" if options.dry_run else "completed", started_at=now)
        if not options.dry_run:
            result.session_id = self.state.start_session(now, dry_run=False)
        mailbox_calls0, crm_calls0 = self.mailbox.api_calls, self.crm.api_calls
        self.parts.retrier = Retrier(self.retry)  # the deadline is per session
        try:
            with fewer_collections():
                self._run_streams(now, options, result)
        except FatalError as exc:
            result.status = "failed"
            result.message = with_fix(exc)
            self.parts.issue(reports.fatal(exc), now, options)
        except RetriableError as exc:
            # Not retried here (a caller let it through): the next session starts from the old cursors.
            result.status = "failed"
            result.message = f"a service did not answer: {exc.message}"
        finally:
            forget_addresses()
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
            self.reading.remember_usage()
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
            self.writing.recover(now)
        window_start = now - timedelta(days=rules.calendar_past_days)
        window_end = now + timedelta(days=rules.calendar_future_days)
        email_since = now - timedelta(days=rules.history_days)
        # The rules and windows of the mailbox reads; Salesforce keeps its usual scope.
        mailbox_rules, mailbox_start = rules, window_start
        self.emails.backfill = self.two_way.backfill_events = False
        if options.since is not None and not options.manual:
            result.backfill_since = options.since
            self.emails.backfill = options.since < email_since
            self.two_way.backfill_events = options.since < window_start
            result.backfill_widened = self.emails.backfill or self.two_way.backfill_events
            days = _days_back(now, options.since)
            if self.emails.backfill:
                email_since = options.since
                mailbox_rules = replace(mailbox_rules, history_days=days)
            if self.two_way.backfill_events:
                mailbox_start = options.since
                mailbox_rules = replace(mailbox_rules, calendar_past_days=days)
        crm_pages: dict[Stream, list[Page]] = {}
        has_links = {s: bool(self.state.links(s)) for s in TWO_WAY} if not options.manual else {}
        two_way = [s for s in streams_to_run(rules, has_links, manual=bool(options.manual)) if s in TWO_WAY]
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
                self.reading.check_budget_for_reads()
                crm_pages = self.parts.retrier.call(
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
            email_since=email_since,
            calendar_start=mailbox_start,
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
                    self.emails.run(mailbox_rules, identity, mailbox_options, now, options, summary, result)
                else:
                    self.two_way.run(
                        stream,
                        mailbox_rules if stream is Stream.EVENTS else rules,
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
            self.emails.retry_emails = ()
            return []
        retries = self.state.retry_requests()
        self.emails.retry_emails = tuple(
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
        info = self.parts.retrier.call(self.crm.org_info, "reading the org")
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
        self.parts.issue(reports.api_budget(message), now, options)
        if not options.dry_run:
            count = int(str(self.state.get_meta("budget_backoff_count", 0) or 0))
            self.state.set_meta("budget_backoff_count", count + 1)
            self.state.set_meta("budget_backoff_until", (now + schedule.budget_backoff(count)).isoformat())

    def _schedule_next(self, result: SessionResult, now: datetime) -> None:
        """Store when the next session is due (`engine.schedule.adaptive_interval`, SPEC §7.2, §7.4)."""
        gap_minutes = self.state.get_meta("gap_minutes")
        backoff_until = self.state.get_meta("budget_backoff_until")
        budget_stopped = any(s.status == "budget" for s in result.streams.values())
        nxt = schedule.adaptive_interval(
            now,
            timedelta(minutes=self.settings.schedule.interval_minutes),
            None if gap_minutes is None else timedelta(minutes=float(str(gap_minutes))),
            changed=bool(result.changes),
            failed=result.status == "failed",
            budget_stopped=budget_stopped,
            backoff_until=datetime.fromisoformat(str(backoff_until)) if backoff_until else None,
        )
        self.state.set_meta("gap_minutes", nxt.gap.total_seconds() / 60)
        if nxt.reset_backoff:
            self.state.set_meta("budget_backoff_count", 0)
        self.state.set_meta("next_due_at", nxt.due_at.isoformat())
        result.next_due_at = nxt.due_at


def _days_back(now: datetime, since: datetime) -> int:
    """Whole days from `since` to `now`, rounded up, so the rules' day windows reach `since`."""
    span = now - since
    return max(0, span.days + (1 if span - timedelta(days=span.days) else 0))
