"""One sync session (`rgsync run`): the one place that joins settings, state, providers and engine.

The order is SPEC §2: lock → pause → due time → settings → per stream (read changes, gather
lookups, plan, guard, write, record) → cursors last → session record → summary. Every create is
journalled before it is sent and the journal is resolved after, so a session killed at any instant
and rerun neither duplicates nor loses anything (SPEC §7.1): pending intents are adopted by their
natural key at the start of the next session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from rgsync.engine import calendar as calendar_rules
from rgsync.engine import contacts as contact_rules
from rgsync.engine import emails as email_rules
from rgsync.engine import tasks as task_rules
from rgsync.engine.email_items import message_key
from rgsync.engine.types import (
    Action,
    AutoResolve,
    Directory,
    Identity,
    Plan,
    Rules,
    SideChanges,
    StreamContext,
    ThreadLinks,
)
from rgsync.model import (
    CalendarItem,
    Create,
    EmailItem,
    NewAccount,
    NewPerson,
    Opportunity,
    OrgInfo,
    Page,
    Person,
    PersonKind,
    RecordKind,
    Side,
    Stream,
    SyncRecord,
    WriteResult,
)
from rgsync.providers.base import (
    ApiBudgetError,
    AuthError,
    Crm,
    CrmReadOptions,
    FatalError,
    Mailbox,
    MailboxReadOptions,
    RetriableError,
    RetryPolicy,
    with_retries,
)
from rgsync.session import reports
from rgsync.session.execute import PlanExecution
from rgsync.session.outcome import RunOptions, SessionResult, StreamStopped, StreamSummary
from rgsync.session.rules import free_mail_domains, rules_from_settings
from rgsync.state import StateStore

log = logging.getLogger("rgsync.session")

ORG_INFO_MAX_AGE = timedelta(days=1)
# Back-off after the API budget guard stops a session (SPEC §7.4): 30 min, 2.5 h, 4.5 h, then 4.5 h.
BUDGET_BACKOFF = (timedelta(minutes=30), timedelta(hours=2, minutes=30), timedelta(hours=4, minutes=30))
TWO_WAY = (Stream.EVENTS, Stream.TASKS, Stream.CONTACTS)
# Emails planned and written together: two full Salesforce collections of 200 (SPEC §10), and
# four lookups for the lot, while memory stays bounded by the chunk, not the mailbox.
EMAIL_CHUNK = 400
T = TypeVar("T")


class SyncSession(PlanExecution):
    """Runs sessions for one profile over one mailbox and one org.

    The caller holds the profile lock. `clock` gives "now" (injected in tests); `retry` is the back-off
    policy for transient failures (tests pass one that does not sleep).
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
    ) -> None:
        self.settings = settings
        self.state = state
        self.mailbox = mailbox
        self.crm = crm
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.free_mail = free_mail if free_mail is not None else free_mail_domains()
        self.time_zone = time_zone

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
        try:
            self._run_streams(now, options, result)
        except FatalError as exc:
            result.status = "failed"
            result.message = exc.message
            self._issue(reports.fatal(exc), now, options)
        except RetriableError as exc:
            # Still failing after the retries (SPEC §7.3): the next session starts from the old cursors.
            result.status = "failed"
            result.message = f"a service did not answer after {self.retry.attempts} attempts: {exc.message}"
        finally:
            result.ended_at = self.clock()
            result.api_calls = {
                Side.MAILBOX.value: self.mailbox.api_calls - mailbox_calls0,
                Side.SALESFORCE.value: self.crm.api_calls - crm_calls0,
            }
        if not options.dry_run:
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
        if two_way:
            cursors = {s: self.state.cursor(s, Side.SALESFORCE) for s in two_way}
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
                crm_pages = with_retries(lambda: self.crm.changes(cursors, crm_options), self.retry)
            except ApiBudgetError as exc:
                self._budget_stop(exc.message, now, options)
                for s in [Stream.EMAILS, *two_way]:
                    result.streams[s] = StreamSummary(s, status="budget", error=exc.message)
                result.status = "failed"
                result.message = exc.message
                return
            except RetriableError as exc:
                for s in two_way:
                    result.streams[s] = StreamSummary(s, status="failed", error=exc.message)
                result.status = "failed"
                two_way = []
        mailbox_options = MailboxReadOptions(
            email_since=now - timedelta(days=rules.history_days),
            calendar_start=window_start,
            calendar_end=window_end,
        )
        # The emails stream always runs: manual saves by label work with auto-save off (SPEC §3.6).
        for stream in [Stream.EMAILS, *two_way]:
            summary = StreamSummary(stream)
            result.streams[stream] = summary
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
        info = with_retries(self.crm.org_info, self.retry)
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

    def _emails(
        self,
        rules: Rules,
        identity: Identity,
        read: MailboxReadOptions,
        now: datetime,
        options: RunOptions,
        summary: StreamSummary,
        result: SessionResult,
    ) -> None:
        """Emails (SPEC §3), a chunk of pages at a time so memory stays flat and writes fill batches.

        Pages are gathered until a chunk holds `EMAIL_CHUNK` emails (whole Salesforce collections),
        planned and written together; the cursor of the chunk's last page is committed only then.
        """
        tracked = {
            thread: ThreadLinks(thread, who, what)
            for thread, (who, what) in self.state.tracked_threads().items()
        }
        cursor = self.state.cursor(Stream.EMAILS, Side.MAILBOX)
        if options.manual:
            pages: Iterable[Page] = [self._fetch(mid) for mid in options.manual]
        else:
            pages = self._read_mailbox(Stream.EMAILS, cursor, read)
        chunk: list[EmailItem] = []
        chunk_cursor: str | None = None

        def flush() -> None:
            if chunk:
                links = self.state.links_for(
                    Stream.EMAILS, [e.mailbox_id for e in chunk], [message_key(e) for e in chunk]
                )
                ctx = StreamContext(
                    identity=identity, rules=rules, now=now, links=links, first_session=cursor is None
                )
                self._email_page(list(chunk), ctx, tracked, options, summary, result)
            if chunk_cursor and not options.dry_run and not options.manual:
                self.state.set_cursor(Stream.EMAILS, Side.MAILBOX, chunk_cursor)
            chunk.clear()

        for page in pages:
            if page.reset:
                self._cursor_reset(Stream.EMAILS, Side.MAILBOX, now, options)
            emails = [i for i in page.items if isinstance(i, EmailItem)]
            summary.changes_read[Side.MAILBOX.value] += len(emails)
            chunk.extend(emails)
            chunk_cursor = page.cursor or chunk_cursor
            if len(chunk) >= EMAIL_CHUNK:
                flush()
                chunk_cursor = None
        flush()

    def _fetch(self, mailbox_id: str) -> Page:
        return with_retries(lambda: self.mailbox.fetch_email(mailbox_id), self.retry)

    def _email_page(
        self,
        emails: list[EmailItem],
        ctx: StreamContext,
        tracked: dict[str, ThreadLinks],
        options: RunOptions,
        summary: StreamSummary,
        result: SessionResult,
    ) -> None:
        manual = options.manual
        manual_thread = options.manual if options.manual_thread else ()
        needs = email_rules.email_lookups(emails, ctx, tracked, manual, manual_thread=manual_thread)
        people = self._find_people(needs.addresses)
        existing = (
            self._crm_read(lambda: self.crm.find_existing(RecordKind.EMAIL, needs.message_ids))
            if needs.message_ids
            else {}
        )
        directory = Directory(people=people, existing_emails=existing)
        if ctx.rules.auto_resolve is not AutoResolve.OFF:
            domains = email_rules.auto_resolve_domains(
                emails, directory, ctx, tracked, manual, manual_thread=manual_thread
            )
            by_domain = self._crm_read(lambda: self.crm.find_accounts_by_domain(domains)) if domains else {}
            directory = replace(directory, accounts_by_domain=by_domain)
            creates = email_rules.plan_auto_resolve(
                emails, directory, ctx, tracked, manual, manual_thread=manual_thread
            )
            if creates:
                new_people = self._auto_resolve(creates, ctx, options, summary, result)
                merged = {k: tuple(v) for k, v in people.items()}
                for person in new_people:
                    merged[person.email] = (*merged.get(person.email, ()), person)
                directory = replace(directory, people=merged)
        directory = self._with_business_records(directory, ctx)
        plan = email_rules.plan_emails(emails, directory, ctx, tracked, manual, manual_thread)
        self._execute_plan(Stream.EMAILS, plan, ctx, options, summary, result)
        if not options.dry_run:
            for thread in plan.tracked_threads:
                self.state.track_thread(thread.thread_id, thread.who_ids, thread.what_id)
                tracked[thread.thread_id] = thread

    def _find_people(self, addresses: Iterable[str]) -> dict[str, tuple[Person, ...]]:
        wanted = sorted(set(addresses))
        if not wanted:
            return {}
        found = self._crm_read(lambda: self.crm.find_people(wanted))
        return {k.lower(): tuple(v) for k, v in found.items()}

    def _auto_resolve(
        self,
        creates: list[Action],
        ctx: StreamContext,
        options: RunOptions,
        summary: StreamSummary,
        result: SessionResult,
    ) -> list[Person]:
        """Create Accounts, then the Leads/Contacts that need them (SPEC §3.4); returns the new people.

        A Contact whose Account is created in the same session learns the new Account's Id here,
        between the two batches. In a dry run nothing is written: the planned people stand in, so the
        plan shows which emails they would let through.
        """
        accounts = [a for a in creates if _new_record(a, NewAccount) is not None]
        persons = [a for a in creates if _new_record(a, NewPerson) is not None]
        if options.dry_run:
            result.planned += creates
            return [_planned_person(_new_record(a, NewPerson)) for a in persons]  # type: ignore[arg-type]
        account_ids: dict[str, str] = {}
        for action, res in zip(accounts, self._write_records(accounts, ctx, options, summary), strict=True):
            account = _new_record(action, NewAccount)
            if res.ok and res.id and account is not None:
                account_ids[account.website] = res.id
        ready: list[Action] = []
        for action in persons:
            record = _new_record(action, NewPerson)
            assert record is not None and isinstance(action.write, Create)
            if record.kind is PersonKind.CONTACT and record.account_id is None:
                domain = record.email.rpartition("@")[2]
                if account_id := account_ids.get(domain) or account_ids.get(record.company):
                    action = replace(
                        action, write=replace(action.write, record=replace(record, account_id=account_id))
                    )
            ready.append(action)
        people: list[Person] = []
        for action, res in zip(ready, self._write_records(ready, ctx, options, summary), strict=True):
            record = _new_record(action, NewPerson)
            if res.ok and res.id and record is not None:
                people.append(
                    Person(
                        res.id,
                        record.kind,
                        record.email,
                        record.first_name,
                        record.last_name,
                        record.account_id,
                        ctx.identity.user_id,
                    )
                )
        return people

    def _write_records(
        self, actions: list[Action], ctx: StreamContext, options: RunOptions, summary: StreamSummary
    ) -> list[WriteResult]:
        """Create auto-resolved records: they need no link (the next lookup by address finds them)."""
        if not actions:
            return []
        results, intents = self._send(Stream.EMAILS, Side.SALESFORCE, actions)
        self._forget(intents)
        for action, res in zip(actions, results, strict=True):
            if res.ok:
                summary.created[Side.SALESFORCE.value] += 1
            else:
                summary.failed += 1
                self._issue(reports.write_failed(Stream.EMAILS, action, res), ctx.now, options)
        return results

    def _two_way(
        self,
        stream: Stream,
        rules: Rules,
        identity: Identity,
        read: MailboxReadOptions,
        crm_pages: list[Page],
        now: datetime,
        options: RunOptions,
        summary: StreamSummary,
        result: SessionResult,
    ) -> None:
        """Events, tasks or contacts (SPEC §4–§6): both sides read whole, planned once, then written."""
        links = self.state.links(stream)
        by_sf = {link.salesforce_id: link for link in links.values()}
        mailbox_cursor = self.state.cursor(stream, Side.MAILBOX)
        mailbox, salesforce = _SideRead(), _SideRead()
        for page in self._read_mailbox(stream, mailbox_cursor, read):
            mailbox.add(page)
        for page in crm_pages:
            salesforce.add(page)
        for side, side_read in ((Side.MAILBOX, mailbox), (Side.SALESFORCE, salesforce)):
            if side_read.reset:
                self._cursor_reset(stream, side, now, options)
        mailbox_changes = mailbox.changes(links)
        sf_changes = salesforce.changes(by_sf)
        summary.changes_read[Side.MAILBOX.value] += len(mailbox_changes.changed) + len(
            mailbox_changes.deleted
        )
        summary.changes_read[Side.SALESFORCE.value] += len(sf_changes.changed) + len(sf_changes.deleted)
        ctx = StreamContext(
            identity=identity,
            rules=rules,
            now=now,
            links=links,
            links_by_salesforce_id=by_sf,
            first_session=mailbox_cursor is None,
        )
        plan: Plan
        if stream is Stream.EVENTS:
            events = [i for i in mailbox_changes.changed if isinstance(i, CalendarItem)]
            needs = calendar_rules.event_lookups(events, ctx)
            meetings = (
                self._crm_read(lambda: self.crm.find_meetings(needs.meeting_keys))
                if needs.meeting_keys
                else {}
            )
            directory = Directory(people=self._find_people(needs.addresses), existing_events=meetings)
            directory = self._with_business_records(directory, ctx)
            plan = calendar_rules.plan_events(mailbox_changes, sf_changes, directory, ctx)  # type: ignore[arg-type]
        elif stream is Stream.TASKS:
            plan = task_rules.plan_tasks(mailbox_changes, sf_changes, ctx)  # type: ignore[arg-type]
        else:
            plan = contact_rules.plan_contacts(mailbox_changes, sf_changes, ctx)  # type: ignore[arg-type]
        # Mass-deletion guard (SPEC §7.5): one side of one stream deleting too much stops the stream.
        for side in (Side.MAILBOX, Side.SALESFORCE):
            count = plan.deletes(stream, side)
            if count > rules.max_deletes and not options.allow_mass_delete:
                self._issue(reports.mass_delete(stream, side, count, rules.max_deletes), now, options)
                summary.skipped.update(s.reason.value for s in plan.skips)
                result.skips += plan.skips
                raise StreamStopped("guarded", f"{count} deletions held back by the mass-deletion guard")
        self._execute_plan(stream, plan, ctx, options, summary, result)
        if not options.dry_run:
            # The guard's deletions went through (or were no longer needed): its issue is over.
            self.state.resolve_issues_by_code("MASS-DELETE-GUARD", now, stream=stream)
            if mailbox.cursor:
                self.state.set_cursor(stream, Side.MAILBOX, mailbox.cursor)
            if salesforce.cursor:
                self.state.set_cursor(stream, Side.SALESFORCE, salesforce.cursor)

    def _with_business_records(self, directory: Directory, ctx: StreamContext) -> Directory:
        """Add the matched Contacts' Accounts and the user's Opportunities on them (SPEC §3.5)."""
        accounts = {
            p.account_id
            for found in directory.people.values()
            for p in found
            if p.kind is PersonKind.CONTACT and p.account_id
        }
        if not accounts:
            return directory
        by_id = self._crm_read(lambda: self.crm.accounts_by_id(accounts))
        opportunities: list[Opportunity] = []
        if ctx.rules.link_to_opportunities:
            opportunities = self._crm_read(lambda: self.crm.opportunities_for(accounts, ctx.identity.user_id))
        return replace(directory, accounts=by_id, opportunities=tuple(opportunities))

    def _read_mailbox(self, stream: Stream, cursor: str | None, read: MailboxReadOptions) -> Iterable[Page]:
        """Pages from the mailbox; a transient failure is retried, the iterator restarted from `cursor`."""
        attempt = 0
        while True:
            try:
                yield from self.mailbox.changes(stream, cursor, read)
                return
            except RetriableError as exc:
                if attempt >= self.retry.attempts - 1:
                    raise StreamStopped("failed", exc.message) from exc
                self.retry.sleep(self.retry.delay(attempt, exc.retry_after))
                attempt += 1
            except AuthError:
                raise
            except FatalError as exc:
                raise StreamStopped("failed", exc.message) from exc

    def _crm_read(self, call: Callable[[], Any]) -> Any:
        try:
            return with_retries(call, self.retry)
        except ApiBudgetError as exc:
            raise StreamStopped("budget", exc.message) from exc
        except RetriableError as exc:
            raise StreamStopped("failed", exc.message) from exc

    def _cursor_reset(self, stream: Stream, side: Side, now: datetime, options: RunOptions) -> None:
        self._issue(reports.cursor_reset(stream, side), now, options)

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


def _new_record(action: Action, kind: type[T]) -> T | None:
    """The record an auto-resolve action creates, if it is of `kind`."""
    write = action.write
    if isinstance(write, Create) and isinstance(write.record, kind):
        return write.record
    return None


def _planned_person(record: NewPerson) -> Person:
    """A stand-in for a person a dry run would create, so the plan shows what it would unlock."""
    return Person(
        f"(new {record.kind.value})", record.kind, record.email, record.first_name, record.last_name
    )


@dataclass
class _SideRead:
    """One side's pages of a two-way stream, gathered whole.

    Items are kept by id, so a listing restarted after a transient failure adds no twin. A full
    listing says what exists: linked items it does not show are gone (SPEC §7.6).
    """

    items: dict[str, SyncRecord] = field(default_factory=dict)
    deleted: dict[str, None] = field(default_factory=dict)
    full: bool = False
    reset: bool = False
    cursor: str | None = None

    def add(self, page: Page) -> None:
        for item in page.items:
            item_id = getattr(item, "id", "")
            self.items[item_id] = item
            self.deleted.pop(item_id, None)
        for item_id in page.deleted:
            self.items.pop(item_id, None)
            self.deleted[item_id] = None
        self.full = self.full or page.full
        self.reset = self.reset or page.reset
        self.cursor = page.cursor or self.cursor

    def changes(self, linked: Mapping[str, object]) -> SideChanges[SyncRecord]:
        deleted = dict(self.deleted)
        if self.full:
            deleted.update((item_id, None) for item_id in linked if item_id not in self.items)
        return SideChanges(tuple(self.items.values()), tuple(deleted))
