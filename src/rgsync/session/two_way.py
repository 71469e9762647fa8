"""The two-way streams of a session (SPEC §4–§6): events, tasks and contacts."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from rgsync.engine import streams as engine_streams
from rgsync.engine.guards import absent_from_full_listing, mass_deletion_guard
from rgsync.engine.shared import EVENT_CLAIMS
from rgsync.engine.types import (
    Directory,
    Identity,
    Rules,
    SideChanges,
    StreamContext,
)
from rgsync.model import (
    Link,
    Page,
    Side,
    Stream,
    SyncRecord,
)
from rgsync.providers.base import (
    MailboxReadOptions,
    RetriableError,
)
from rgsync.session import reports
from rgsync.session.execute import PlanExecution
from rgsync.session.outcome import RunOptions, SessionResult, StreamStopped, StreamSummary
from rgsync.session.parts import SessionParts, UsesParts
from rgsync.session.reading import StreamReading
from rgsync.session.shared_streams import MeetingClaims, claim_meetings


class TwoWayRunner(UsesParts):
    """Events, tasks and contacts: both sides read whole, planned once, then written."""

    def __init__(self, parts: SessionParts, reading: StreamReading, writing: PlanExecution) -> None:
        super().__init__(parts)
        self.reading = reading
        self.writing = writing
        # `rgsync run --since` reaching past the calendar window: the mailbox's calendar is listed
        # whole over the wider window, its incremental cursor left where it was.
        self.backfill_events = False

    def run(
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
        stored_cursor = self.state.cursor(stream, Side.MAILBOX)
        backfill = self.backfill_events and stream is Stream.EVENTS
        mailbox_cursor = None if backfill else stored_cursor
        mailbox, salesforce = _SideRead(), _SideRead()
        for page in self.reading.read_mailbox(stream, mailbox_cursor, read):
            summary.page_read(Side.MAILBOX, page)
            mailbox.add(page)
        for page in crm_pages:
            summary.page_read(Side.SALESFORCE, page)
            salesforce.add(page)
        if not mailbox.full:
            self._confirm_unseen_creates(stream, links, mailbox)
        for side, side_read in ((Side.MAILBOX, mailbox), (Side.SALESFORCE, salesforce)):
            if side_read.reset:
                self.reading.cursor_reset(stream, side, now, options)
        mailbox_changes = mailbox.changes(links)
        # Salesforce reports records that changed and left the scope whether or not the mailbox
        # has them; only the linked ones and orphan copies (tagged, not linked) concern the plan.
        tagged = {str(getattr(i, "salesforce_id", "") or "") for i in mailbox.items.values()} - {""}
        sf_changes = salesforce.changes(by_sf, concerned=tagged)
        summary.changes_read[Side.MAILBOX.value] += len(mailbox_changes.changed) + len(
            mailbox_changes.deleted
        )
        summary.changes_read[Side.SALESFORCE.value] += len(sf_changes.changed) + len(sf_changes.deleted)
        unlinked = self.state.unlinked_items(stream) if stream is Stream.EVENTS else {}
        if not options.dry_run:
            # A remembered item deleted from the mailbox since: nothing left to keep from saving.
            for mailbox_id in set(unlinked) & set(mailbox_changes.deleted):
                self.state.forget_unlinked(stream, mailbox_id)
        ctx = StreamContext(
            identity=identity,
            rules=rules,
            now=now,
            links=links,
            links_by_salesforce_id=by_sf,
            first_session=mailbox_cursor is None,
            unlinked=unlinked,
        )
        wanted = engine_streams.needs(stream, mailbox_changes, ctx)
        directory = Directory()
        claims: MeetingClaims | None = None
        if stream is Stream.EVENTS:
            lookup_keys = wanted.meeting_keys
            if self.shared is not None and lookup_keys:
                # A fleet: colleagues' sessions claim the meetings they save (session.shared).
                claims = claim_meetings(self.shared, mailbox_changes, lookup_keys, dry_run=options.dry_run)
                mailbox_changes = claims.without_deferred(mailbox_changes)
                lookup_keys = claims.fallback_keys
            meetings = (
                self.reading.crm_read(lambda: self.crm.find_meetings(lookup_keys)) if lookup_keys else {}
            )
            if claims is not None:
                meetings = claims.existing(meetings)
            people = self.reading.find_people(wanted.addresses)
            people = self.reading.with_event_people(people, sf_changes.changed, by_sf)
            directory = self.reading.with_business_records(
                Directory(people=people, existing_events=meetings), ctx
            )
        plan = engine_streams.plan(stream, mailbox_changes, sf_changes, directory, ctx)
        guarded = mass_deletion_guard(plan, stream, rules.max_deletes, allowed=options.allow_mass_delete)
        if guarded is not None:
            if claims is not None and self.shared is not None and not options.dry_run:
                claims.settle(
                    self.shared, self.state.links(stream), directory.existing_events, identity.user_id
                )
            self.writing.issue(
                reports.mass_delete(stream, guarded.side, guarded.count, guarded.limit), now, options
            )
            summary.skipped.update(s.reason.value for s in plan.skips)
            result.skips += plan.skips
            raise StreamStopped("guarded", f"{guarded.count} deletions held back by the mass-deletion guard")
        self.writing.execute_plan(stream, plan, ctx, options, summary, result)
        gone = False
        if claims is not None and self.shared is not None and not options.dry_run:
            claims.settle(self.shared, self.state.links(stream), directory.existing_events, identity.user_id)
            gone = bool(self.writing.gone_targets)
            if gone:
                # A colleague's Event deleted since it was claimed: its meetings are saved afresh
                # next session (the same changes are read again).
                self.shared.forget(EVENT_CLAIMS, self.writing.gone_targets)
        if not options.dry_run:
            # Mailbox items this session created: the next read must show them (see
            # `_confirm_unseen_creates`).
            now_linked = self.state.links(stream)
            created = {
                mid: link.salesforce_id
                for mid, link in now_linked.items()
                if mid not in links and link.origin is Side.SALESFORCE
            }
            self.state.set_meta(f"mailbox_creates:{stream.value}", created or None)
            # The guard's deletions went through (or were no longer needed): its issue is over.
            self.state.resolve_issues_by_code("MASS-DELETE-GUARD", now, stream=stream)
            # Meetings left to a colleague's session in flight come back with the same changes.
            deferred = claims is not None and (bool(claims.deferred_items) or gone)
            if mailbox.cursor and (not backfill or stored_cursor is None) and not deferred:
                self.state.set_cursor(stream, Side.MAILBOX, mailbox.cursor)
            if salesforce.cursor:
                self.state.set_cursor(stream, Side.SALESFORCE, salesforce.cursor)

    def _confirm_unseen_creates(self, stream: Stream, links: Mapping[str, Link], mailbox: _SideRead) -> None:
        """Notice copies the user deleted before rgsync's next read had seen them at all.

        A change feed reports net changes since a position: an item rgsync created after the
        position it read from, then deleted by the user before the next read, nets out to nothing
        (EWS SyncFolderItems does so), and the deletion would never be seen — the task would not
        come back with forbid-remove on, nor be deleted in Salesforce with it off. So the copies
        created by the last session that this read shows neither changed nor deleted are looked
        up by their Salesforce tag (one call, only after a session that created some); the ones
        missing are deletions.
        """
        recorded = self.state.get_meta(f"mailbox_creates:{stream.value}")
        if not isinstance(recorded, dict) or not recorded:
            return
        unseen = {
            str(mid): str(sf_id)
            for mid, sf_id in recorded.items()
            if mid in links and mid not in mailbox.items and mid not in mailbox.deleted
        }
        if not unseen:
            return
        try:
            found = self.retrier.call(
                lambda: self.mailbox.find_tagged(stream, sorted(set(unseen.values()))), "finding tagged items"
            )
        except RetriableError as exc:
            raise StreamStopped("failed", exc.message) from exc
        present = set(found.values())
        for mid, sf_id in unseen.items():
            if mid not in present and found.get(sf_id) != mid:
                mailbox.deleted[mid] = None


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

    def changes(
        self, linked: Mapping[str, object], concerned: Collection[str] | None = None
    ) -> SideChanges[SyncRecord]:
        """The side's changes; with `concerned`, deletions are kept only for linked items and
        those ids (the rest name records this side never had)."""
        deleted = dict(self.deleted)
        if concerned is not None:
            deleted = {i: None for i in deleted if i in linked or i in concerned}
        if self.full:
            deleted.update((item_id, None) for item_id in absent_from_full_listing(linked, self.items))
        return SideChanges(tuple(self.items.values()), tuple(deleted))
