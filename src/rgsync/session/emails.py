"""The emails stream of a session (SPEC §3): chunks of pages, lookups, auto-resolve, plan, write."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from rgsync.engine import backoff
from rgsync.engine import emails as email_rules
from rgsync.engine import streams as engine_streams
from rgsync.engine.email_items import message_key
from rgsync.engine.shared import EMAIL_CLAIMS, join_colleague_emails
from rgsync.engine.streams import EmailInputs, bind_new_contacts, new_account_key
from rgsync.engine.types import (
    Action,
    AutoResolve,
    Directory,
    Identity,
    Rules,
    SideChanges,
    StreamContext,
    ThreadLinks,
)
from rgsync.model import (
    LABEL_SYNC_ERROR,
    Create,
    EmailItem,
    HeldBack,
    NewAccount,
    NewPerson,
    Page,
    Person,
    RecordKind,
    Side,
    Stream,
    SyncRecord,
    WriteResult,
)
from rgsync.providers.base import (
    ItemError,
    MailboxReadOptions,
    ProviderError,
    SkipsOwnMarks,
)
from rgsync.session import reports
from rgsync.session.collector import after_chunk
from rgsync.session.execute import PlanExecution
from rgsync.session.outcome import RunOptions, SessionResult, StreamSummary
from rgsync.session.parts import SessionParts, UsesParts
from rgsync.session.reading import StreamReading
from rgsync.session.shared_streams import EmailClaims, claim_emails, joined_emails

log = logging.getLogger("rgsync.session")

# Emails planned and written together: five full Salesforce collections of 200 (SPEC §10), and
# one duplicate check for the lot, while memory stays bounded by the chunk, not the mailbox
# (benchmarks/run_benchmarks.py measured 400, 1,000 and 2,000).
EMAIL_CHUNK = 1000
# Pages read without a chunk written in between, after which the session's cyclic garbage is
# collected anyway (`collector.after_chunk`): a listing can bring many pages that hold no email to
# plan (on Exchange, this session's own labelling of the emails it listed earlier comes back as
# updates), and what parsing them left in cycles would otherwise pile up until the next chunk.
PAGES_PER_COLLECTION = 2
T = TypeVar("T")
# State meta key: mailbox ids of emails deferred to the next session (see `session.shared`).
DEFERRED_META = "shared_deferred_emails"


class EmailRunner(UsesParts):
    """Emails, mailbox → Salesforce, one way."""

    def __init__(self, parts: SessionParts, reading: StreamReading, writing: PlanExecution) -> None:
        super().__init__(parts)
        self.reading = reading
        self.writing = writing
        # Emails the user asked to retry (`rgsync issues retry`), set by the session for this run.
        self.retry_emails: tuple[str, ...] = ()
        # `rgsync run --since` reaching past history-days: a full listing from `read.email_since`
        # that leaves the incremental cursor where it was (set by the session for this run).
        self.backfill = False
        # Emails a colleague's session was saving at the same moment: fetched again next session.
        self.deferred: list[str] = []

    def run(
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
        stored_cursor = self.state.cursor(Stream.EMAILS, Side.MAILBOX)
        backfill = self.backfill and not options.manual
        cursor = None if backfill else stored_cursor
        # A backfill's listing is a normal full one only when no cursor exists yet (the first
        # session): only then does its cursor stand for what a normal session would have kept.
        keep_cursor = not options.dry_run and not options.manual and (not backfill or stored_cursor is None)
        # Emails read by id before the listing: those the user asked to retry, those an earlier
        # session left to this one (a colleague's session was saving them), and those held back
        # after a refusal for good whose next attempt has come (SPEC §7.7, `engine.backoff`).
        self.deferred = []
        earlier: list[str] = []
        retried: set[str] = set()
        first: list[Page] = []
        if options.manual:
            pages: Iterable[Page] = [self._fetch(mid) for mid in options.manual]
        else:
            earlier = self._deferred_earlier(options)
            due = () if options.dry_run else tuple(self.state.due_held_back(Stream.EMAILS, now))
            by_id = tuple(dict.fromkeys((*self.retry_emails, *earlier, *due)))
            # They go first, planned by rule; the listing does not bring them a second time.
            first = list(self._retry_pages(by_id, retried))
            pages = itertools.chain(first, self.reading.read_mailbox(Stream.EMAILS, cursor, read))
        chunk: list[EmailItem] = []
        chunk_cursor: str | None = None
        # Only the sync-error mark is ours on a refused email; the save label there is the user's.
        own_labels = (LABEL_SYNC_ERROR,)

        def flush() -> None:
            if chunk:
                held = self._held_back(chunk, now, own_labels, asked=(*options.manual, *self.retry_emails))
                emails = [e for e in chunk if e.mailbox_id not in held.dropped]
                links = self.state.links_for(
                    Stream.EMAILS, [e.mailbox_id for e in emails], [message_key(e) for e in emails]
                )
                ctx = StreamContext(
                    identity=identity, rules=rules, now=now, links=links, first_session=cursor is None
                )
                if emails:
                    self._email_page(emails, ctx, tracked, options, summary, result)
                if not options.dry_run:
                    self._hold_refused(emails, held.holds, now, own_labels)
            if keep_cursor and self.deferred:
                # Recorded before the cursor moves past them, so they are never lost.
                self.state.set_meta(DEFERRED_META, sorted(set(self.deferred) | set(earlier)))
            if chunk_cursor and keep_cursor:
                self.state.set_cursor(Stream.EMAILS, Side.MAILBOX, chunk_cursor)
            chunk.clear()
            after_chunk()

        unflushed = 0  # pages read since the last chunk was written (see PAGES_PER_COLLECTION)
        for n, page in enumerate(pages):
            if page.reset:
                self.reading.cursor_reset(Stream.EMAILS, Side.MAILBOX, now, options)
            emails = [i for i in page.items if isinstance(i, EmailItem)]
            if retried and n >= len(first):
                emails = [e for e in emails if e.mailbox_id not in retried]
            summary.changes_read[Side.MAILBOX.value] += len(emails)
            summary.page_read(Side.MAILBOX, page)
            chunk.extend(emails)
            chunk_cursor = page.cursor or chunk_cursor
            if len(chunk) >= EMAIL_CHUNK:
                flush()
                chunk_cursor, unflushed = None, 0
            else:
                unflushed += 1
                if unflushed >= PAGES_PER_COLLECTION:
                    after_chunk()
                    unflushed = 0
        flush()
        if keep_cursor and (earlier or self.deferred):
            self.state.set_meta(DEFERRED_META, sorted(set(self.deferred)) or None)
        if keep_cursor and not options.manual:
            self._past_own_marks(read)

    def _deferred_earlier(self, options: RunOptions) -> list[str]:
        """Emails an earlier session left to this one (a colleague's session was saving them)."""
        if self.shared is None or options.dry_run:
            return []
        recorded = self.state.get_meta(DEFERRED_META)
        return [str(m) for m in recorded] if isinstance(recorded, list) else []

    def _past_own_marks(self, read: MailboxReadOptions) -> None:
        """Move the emails cursor past the labels/categories this session set itself, so the next
        session does not page through their echo (SPEC §10). Only a saving: when the mailbox
        cannot tell, or fails, the cursor stays and the next read drops the echo as before."""
        mailbox = self.mailbox
        cursor = self.state.cursor(Stream.EMAILS, Side.MAILBOX)
        if not cursor or not isinstance(mailbox, SkipsOwnMarks):
            return
        try:
            moved = self.retrier.call(
                lambda: mailbox.past_own_marks(cursor, read), "reading past our own labels"
            )
        except ProviderError as exc:
            log.info("kept the emails cursor before our own labels: %s", exc.message)
            return
        if moved and moved != cursor:
            self.state.set_cursor(Stream.EMAILS, Side.MAILBOX, moved)

    def _retry_pages(self, mailbox_ids: Iterable[str], retried: set[str]) -> Iterator[Page]:
        for mailbox_id in mailbox_ids:
            try:
                page = self._fetch(mailbox_id)
            except ItemError as exc:
                # Gone from the mailbox since: nothing left to retry, nothing to hold back.
                log.info("email %s to retry is no longer in the mailbox: %s", mailbox_id, exc.message)
                self.state.release(Stream.EMAILS, [mailbox_id])
                continue
            retried.add(mailbox_id)
            yield page

    def _held_back(
        self, chunk: list[EmailItem], now: datetime, own_labels: tuple[str, ...], asked: tuple[str, ...]
    ) -> _Held:
        """The holds on the chunk's emails, and which of them still wait (SPEC §7.7): refused for
        good, their next attempt not come, unchanged since — unless the user asked for them."""
        holds = self.state.held_back(Stream.EMAILS, [e.mailbox_id for e in chunk])
        if not holds:
            return _Held({}, frozenset())
        dropped = frozenset(
            e.mailbox_id
            for e in chunk
            if e.mailbox_id in holds
            and e.mailbox_id not in asked
            and backoff.holds_back(holds[e.mailbox_id], now, backoff.email_fingerprint(e, own_labels))
        )
        if dropped:
            log.info("%d email(s) refused for good wait for their next attempt", len(dropped))
        return _Held({k: v for k, v in holds.items() if k not in dropped}, dropped)

    def _hold_refused(
        self, emails: list[EmailItem], holds: dict[str, HeldBack], now: datetime, own_labels: tuple[str, ...]
    ) -> None:
        """Hold back what Salesforce refused for good in this chunk; release what went through."""
        refused = {mid: code for stream, mid, code in self.writing.refusals if stream is Stream.EMAILS}
        self.writing.refusals.clear()
        by_id = {e.mailbox_id: e for e in emails}
        with self.state.transaction():
            for mailbox_id, code in refused.items():
                email = by_id.get(mailbox_id)
                if email is None or not backoff.is_permanent(code):
                    continue
                fingerprint = backoff.email_fingerprint(email, own_labels)
                hold = backoff.after_refusal(holds.get(mailbox_id), now, fingerprint, code)
                self.state.hold_back(Stream.EMAILS, mailbox_id, hold)
            # Tried again and not refused for good this time: saved, or no longer wanted.
            self.state.release(
                Stream.EMAILS,
                [m for m in holds if m in by_id and not backoff.is_permanent(refused.get(m, ""))],
            )

    def _fetch(self, mailbox_id: str) -> Page:
        return self.retrier.call(lambda: self.mailbox.fetch_email(mailbox_id), "reading the email")

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
        inputs = EmailInputs(tracked, tuple(manual), tuple(manual_thread))
        changes: SideChanges[SyncRecord] = SideChanges(tuple(emails))
        needs = engine_streams.needs(Stream.EMAILS, changes, ctx, inputs)
        people = self.reading.find_people(needs.addresses)
        claims: EmailClaims | None = None
        lookup_ids: frozenset[str] = needs.message_ids
        if self.shared is not None and lookup_ids:
            # A fleet: one EmailMessage per Message-ID across colleagues (session.shared).
            claims = claim_emails(self.shared, lookup_ids, dry_run=options.dry_run)
            lookup_ids = claims.fallback_ids
            if claims.deferred:
                later = [e for e in emails if message_key(e) in claims.deferred]
                self.deferred.extend(e.mailbox_id for e in later)
                emails = [e for e in emails if message_key(e) not in claims.deferred]
                changes = SideChanges(tuple(emails))
        existing = (
            self.reading.crm_read(lambda: self.crm.find_existing(RecordKind.EMAIL, lookup_ids))
            if lookup_ids
            else {}
        )
        if claims is not None:
            # In a fleet, an email the fallback found is a colleague's unless the user saved it
            # (another copy, linked already): the user is related to a colleague's as well.
            own = {link.salesforce_id for link in ctx.links.values()}
            found = {**claims.colleague_emails, **existing}
            claims.colleague_emails = {k: v for k, v in found.items() if v not in own}
            existing = {**existing, **joined_emails(claims)}
        directory = Directory(people=people, existing_emails=existing)
        if ctx.rules.auto_resolve is not AutoResolve.OFF:
            domains = email_rules.auto_resolve_domains(
                emails, directory, ctx, tracked, manual, manual_thread=manual_thread
            )
            by_domain = (
                self.reading.crm_read(lambda: self.crm.find_accounts_by_domain(domains)) if domains else {}
            )
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
        directory = self.reading.with_business_records(directory, ctx)
        plan = engine_streams.plan(Stream.EMAILS, changes, SideChanges(), directory, ctx, inputs)
        if claims is not None and claims.colleague_emails:
            plan = join_colleague_emails(plan, claims.colleague_emails, emails, ctx.identity)
        self.writing.execute_plan(Stream.EMAILS, plan, ctx, options, summary, result)
        if claims is not None and self.shared is not None and not options.dry_run:
            links = self.state.links_for(Stream.EMAILS, [e.mailbox_id for e in emails])
            saved = {link.natural_key: link.salesforce_id for link in links.values() if link.natural_key}
            claims.settle(self.shared, saved, ctx.identity.user_id)
            gone = self.writing.gone_targets
            if gone:
                # A colleague's email deleted since it was claimed: saved afresh next session.
                self.shared.forget(EMAIL_CLAIMS, gone)
                self.deferred.extend(
                    e.mailbox_id for e in emails if claims.colleague_emails.get(message_key(e)) in gone
                )
        if not options.dry_run:
            self.state.track_threads([(t.thread_id, t.who_ids, t.what_id) for t in plan.tracked_threads])
            for thread in plan.tracked_threads:
                tracked[thread.thread_id] = thread

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
            key = new_account_key(action)
            if res.ok and res.id and key is not None:
                account_ids[key] = res.id
        ready = bind_new_contacts(persons, account_ids)
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
        results, intents = self.writing.send(Stream.EMAILS, Side.SALESFORCE, actions)
        self.writing.forget(intents)
        for action, res in zip(actions, results, strict=True):
            if res.ok:
                summary.created[Side.SALESFORCE.value] += 1
            else:
                summary.failed += 1
                self.writing.issue(reports.write_failed(Stream.EMAILS, action, res), ctx.now, options)
        return results


@dataclass(frozen=True)
class _Held:
    """The holds of a chunk's emails that are tried now, and the ids that still wait."""

    holds: dict[str, HeldBack]
    dropped: frozenset[str]


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
