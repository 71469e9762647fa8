"""Reading for a session: mailbox pages and org lookups under the session's retry policy, people and
business records."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from rgsync.engine import budget
from rgsync.engine.streams import business_records_needed
from rgsync.engine.types import (
    Directory,
    StreamContext,
)
from rgsync.model import (
    ApiUsage,
    CalendarItem,
    Link,
    Opportunity,
    Page,
    Person,
    Side,
    Stream,
)
from rgsync.providers.base import (
    ApiBudgetError,
    AuthError,
    FatalError,
    MailboxReadOptions,
    RetriableError,
)
from rgsync.session import reports
from rgsync.session.outcome import RunOptions, StreamStopped
from rgsync.session.parts import UsesParts
from rgsync.session.retry import OutageError

# The allocation the last session saw stands for the current one this long (Salesforce counts
# calls over a rolling 24 hours, so it changes slowly; the budget back-off is 30 minutes at least).
LAST_USAGE_VALID = timedelta(minutes=30)


class StreamReading(UsesParts):
    """Reads shared by the email and two-way streams, under the session's retry policy and budget."""

    def find_people(self, addresses: Iterable[str]) -> dict[str, tuple[Person, ...]]:
        wanted = sorted(set(addresses))
        if not wanted:
            return {}
        found = self.crm_read(lambda: self.crm.find_people(wanted))
        return {k.lower(): tuple(v) for k, v in found.items()}

    def with_event_people(
        self,
        people: dict[str, tuple[Person, ...]],
        events: Iterable[object],
        links_by_salesforce_id: Mapping[str, Link],
    ) -> dict[str, tuple[Person, ...]]:
        """Add the people Salesforce Events name by Id that the mailbox's attendees did not bring.

        A down-synced copy lists an Event's Contacts and Leads as attendees (SPEC §4.3). Only the
        mailbox's attendee addresses are looked up by address, so an Event whose people this
        session did not meet in the mailbox (a new Event, or a rerun after an interrupted session
        whose meetings are already linked) would otherwise be copied without them. Only people new
        to an Event are wanted (a linked Event's base already has the others), so a session in
        which nothing changed costs no lookup.
        """
        known = {p.id for found in people.values() for p in found}
        wanted: set[str] = set()
        for event in events:
            if not isinstance(event, CalendarItem) or event.attendees:
                continue
            link = links_by_salesforce_id.get(event.id)
            had = set(link.fields.get("who_ids", "").split(",")) if link else set()
            wanted.update(who for who in event.who_ids if who not in known and who not in had)
        if not wanted:
            return people
        found = self.crm_read(lambda: self.crm.people_by_id(wanted))
        merged = dict(people)
        for person in found.values():
            key = person.email.lower()
            merged[key] = (*merged.get(key, ()), person)
        return merged

    def with_business_records(self, directory: Directory, ctx: StreamContext) -> Directory:
        """Add the matched Contacts' Accounts and the user's Opportunities on them (SPEC §3.5)."""
        wanted = business_records_needed(directory.people, ctx.rules)
        if not wanted.account_ids:
            return directory
        by_id = self.crm_read(lambda: self.crm.accounts_by_id(wanted.account_ids))
        opportunities: list[Opportunity] = []
        if wanted.opportunities:
            opportunities = self.crm_read(
                lambda: self.crm.opportunities_for(wanted.account_ids, ctx.identity.user_id)
            )
        return replace(directory, accounts=by_id, opportunities=tuple(opportunities))

    def read_mailbox(self, stream: Stream, cursor: str | None, read: MailboxReadOptions) -> Iterable[Page]:
        """Pages from the mailbox; a transient failure is retried, the iterator restarted from `cursor`."""
        attempt = 0
        while True:
            try:
                yield from self.mailbox.changes(stream, cursor, read)
                return
            except RetriableError as exc:
                self.retrier.wait(exc, attempt, f"reading {stream.value}")
                attempt += 1
            except (AuthError, OutageError):
                raise
            except FatalError as exc:
                raise StreamStopped("failed", exc.message) from exc

    def crm_read(self, call: Callable[[], Any]) -> Any:
        # A look-up only serves the writes after it: when the budget allows no more calls, the
        # stream stops here rather than spend the org's last calls on reading (SPEC §7.4).
        self.check_budget_for_reads()
        try:
            return self.retrier.call(call, "a Salesforce lookup")
        except ApiBudgetError as exc:
            raise StreamStopped("budget", exc.message) from exc
        except RetriableError as exc:
            raise StreamStopped("failed", exc.message) from exc

    def check_budget_for_reads(self) -> None:
        usage = self.crm.usage() or self._last_known_usage()
        floor = float(self.settings.schedule.min_api_remaining)
        if usage is not None and not budget.check_budget(usage, floor, 1).allowed:
            raise StreamStopped(
                "budget",
                f"Salesforce API allocation is at {usage.remaining_percent:.1f}% left "
                f"({usage.used}/{usage.limit} used), and rgsync keeps min-api-remaining ({floor:g}%)",
            )

    def _last_known_usage(self) -> ApiUsage | None:
        """The allocation as the previous session left it, while it is recent enough to stand for
        today's: it lets the first call of a session be held back too (SPEC §7.4)."""
        stored = self.state.get_meta("api_usage")
        if not isinstance(stored, dict):
            return None
        try:
            seen = datetime.fromisoformat(str(stored["at"]))
            usage = ApiUsage(used=int(stored["used"]), limit=int(stored["limit"]))
        except (KeyError, TypeError, ValueError):
            return None
        return usage if abs(self.clock() - seen) <= LAST_USAGE_VALID else None

    def remember_usage(self) -> None:
        usage = self.crm.usage()
        if usage is not None:
            self.state.set_meta(
                "api_usage", {"used": usage.used, "limit": usage.limit, "at": self.clock().isoformat()}
            )

    def cursor_reset(self, stream: Stream, side: Side, now: datetime, options: RunOptions) -> None:
        self.parts.issue(reports.cursor_reset(stream, side), now, options)
