"""Reading for a session: mailbox pages and org lookups under the session's retry policy, people and
business records."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from rgsync.engine.types import (
    Directory,
    StreamContext,
)
from rgsync.model import (
    Opportunity,
    Page,
    Person,
    PersonKind,
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
from rgsync.session.execute import PlanExecution
from rgsync.session.outcome import RunOptions, StreamStopped
from rgsync.session.retry import OutageError


class StreamReading(PlanExecution):
    """Reads shared by the email and two-way streams."""

    def _find_people(self, addresses: Iterable[str]) -> dict[str, tuple[Person, ...]]:
        wanted = sorted(set(addresses))
        if not wanted:
            return {}
        found = self._crm_read(lambda: self.crm.find_people(wanted))
        return {k.lower(): tuple(v) for k, v in found.items()}

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
                self.retrier.wait(exc, attempt, f"reading {stream.value}")
                attempt += 1
            except (AuthError, OutageError):
                raise
            except FatalError as exc:
                raise StreamStopped("failed", exc.message) from exc

    def _crm_read(self, call: Callable[[], Any]) -> Any:
        try:
            return self.retrier.call(call, "a Salesforce lookup")
        except ApiBudgetError as exc:
            raise StreamStopped("budget", exc.message) from exc
        except RetriableError as exc:
            raise StreamStopped("failed", exc.message) from exc

    def _cursor_reset(self, stream: Stream, side: Side, now: datetime, options: RunOptions) -> None:
        self._issue(reports.cursor_reset(stream, side), now, options)
