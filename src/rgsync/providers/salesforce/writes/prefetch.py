"""The batched lookups that preparing a batch of writes needs: the people addresses of
EmailMessages, Accounts for contacts' companies (created when missing), the current timing of
Events whose times change, and the user's invitations for invitee deletes."""

from __future__ import annotations

from rgsync.model import (
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    EmailActivity,
    EmailMode,
    NewAccount,
    RecordKind,
    Update,
    Write,
    WriteResult,
)
from rgsync.providers.salesforce import soql
from rgsync.providers.salesforce.mapping import OrgShape, event_from_record, new_account
from rgsync.providers.salesforce.writes.batches import Attempt, Op
from rgsync.providers.salesforce.writes.sending import WriteSending


class WritePrefetch(WriteSending):
    """What the mapping of a batch of writes needs from the org, fetched in batched calls."""

    # -- batched lookups the mapping needs -------------------------------------------------------------------
    def _email_people(self, todo: list[tuple[int, Write]]) -> dict[str, str]:
        ids = {
            who
            for _, w in todo
            if isinstance(w, Create)
            and isinstance(w.record, EmailActivity)
            and w.record.mode is EmailMode.EMAIL_MESSAGE
            for who in w.record.who_ids
        }
        return self.lookups.person_addresses(ids) if ids else {}

    def _accounts_for_contacts(
        self, todo: list[tuple[int, Write]], results: list[WriteResult | None]
    ) -> dict[str, str]:
        """Account Ids by company name (casefolded) for mailbox contacts; missing Accounts are created."""
        names: dict[str, str] = {}
        for _, w in todo:
            if isinstance(w, Create) and isinstance(w.record, ContactItem) and not w.record.account_id:
                company = w.record.company.strip()
            elif (
                isinstance(w, Update)
                and w.kind is RecordKind.CONTACT
                and isinstance(w.changes.get("company"), str)
            ):
                company = str(w.changes["company"]).strip()
            else:
                continue
            if company:
                names.setdefault(company.casefold(), company)
        if not names:
            return {}
        found = {k.casefold(): v for k, v in self.lookups.accounts_by_name(list(names.values())).items()}
        missing = [name for key, name in names.items() if key not in found]
        if missing:
            ops = [
                Op(i, "create", "Account", new_account(NewAccount(name, "")))
                for i, name in enumerate(missing)
            ]
            created: list[WriteResult | None] = [None] * len(ops)
            self._execute(ops, created, Attempt())
            for name, result in zip(missing, created, strict=True):
                if result is not None and result.ok and result.id:
                    found[name.casefold()] = result.id
        return found

    def _current_events(self, todo: list[tuple[int, Write]]) -> dict[str, CalendarItem]:
        ids = sorted(
            {
                w.id
                for _, w in todo
                if isinstance(w, Update)
                and w.kind is RecordKind.EVENT
                and soql.is_id(w.id)
                and any(k in w.changes for k in ("start", "end", "all_day"))
            }
        )
        if not ids:
            return {}
        queries = soql.chunked_in_queries(
            lambda values: (
                "SELECT Id, Subject, StartDateTime, EndDateTime, IsAllDayEvent, ActivityDate, DurationInMinutes, "
                f"OwnerId FROM Event WHERE Id IN {values}"
            ),
            ids,
            soql.record_id,
        )
        out: dict[str, CalendarItem] = {}
        for rows in self.client.queries(queries):
            for row in rows:
                item = event_from_record(row, OrgShape())
                if item is not None:
                    out[item.id[:15]] = item
        return out

    def _invitations(self, todo: list[tuple[int, Write]]) -> dict[str, str]:
        """EventRelation Id of the user's invitation, by Event Id, for invitee deletes."""
        events = sorted(
            {
                w.id
                for _, w in todo
                if isinstance(w, Delete) and w.kind is RecordKind.EVENT_INVITEE and soql.is_id(w.id)
            }
        )
        if not events:
            return {}
        user = soql.record_id(self.org().user_id)
        queries = soql.chunked_in_queries(
            lambda values: (
                f"SELECT Id, EventId FROM EventRelation WHERE RelationId = {user} AND EventId IN {values}"
            ),
            events,
            soql.record_id,
        )
        by_event = {
            str(r["EventId"])[:15]: str(r["Id"]) for rows in self.client.queries(queries) for r in rows
        }
        return {e: by_event[e[:15]] for e in events if e[:15] in by_event}
