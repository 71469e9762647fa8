"""Preparing writes: each Create / Update / Delete as the sObject record it is sent as, through
the field mapping; a write Salesforce cannot take becomes a failed result here (SF-UNSUPPORTED)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rgsync.model import (
    CalendarItem,
    ContactItem,
    Create,
    EmailActivity,
    EmailMode,
    EmailRecipient,
    EventInvitee,
    EventRecord,
    NewAccount,
    NewPerson,
    RecordKind,
    TaskItem,
    Update,
    Write,
    WriteResult,
)
from rgsync.providers.salesforce.mapping import (
    OrgShape,
    contact_create,
    contact_update,
    email_message,
    email_task,
    event_create,
    event_invitee,
    event_update,
    new_account,
    new_person,
    salesforce_fields,
    task_create,
    task_update,
)
from rgsync.providers.salesforce.mapping.emails import email_recipient
from rgsync.providers.salesforce.writes.batches import Key, Op
from rgsync.providers.salesforce.writes.prefetch import WritePrefetch

KIND_SOBJECT = {RecordKind.EVENT: "Event", RecordKind.TASK: "Task", RecordKind.CONTACT: "Contact"}


class WritePreparation(WritePrefetch):
    """Turns domain writes into `Op`s ready to send."""

    # -- mapping ------------------------------------------------------------------------------------------
    def _prepare(self, writes: Sequence[Write], results: list[WriteResult | None]) -> list[Op]:
        shape = self.shape()
        todo = [(n, w) for n, w in enumerate(writes) if results[n] is None]
        addresses = self._email_people(todo)
        account_ids = self._accounts_for_contacts(todo, results)
        current_events = self._current_events(todo)
        invitations = self._invitations(todo)
        ops: list[Op] = []
        for n, write in todo:
            if results[n] is not None:
                continue
            try:
                op = self._op(n, write, shape, addresses, account_ids, current_events, invitations)
            except ValueError as exc:
                results[n] = WriteResult(ok=False, error_code="SF-UNSUPPORTED", message=str(exc))
                continue
            if op is None:
                results[n] = WriteResult(ok=True, id=getattr(write, "id", None))
            else:
                op.record = salesforce_fields(op.record)  # only what Salesforce refuses is scrubbed
                ops.append(op)
        return ops

    def _op(
        self,
        n: int,
        write: Write,
        shape: OrgShape,
        addresses: dict[str, str],
        account_ids: dict[str, str],
        current_events: dict[str, CalendarItem],
        invitations: dict[str, str],
    ) -> Op | None:
        if isinstance(write, Create):
            return self._create_op(n, write, shape, addresses, account_ids)
        if isinstance(write, Update):
            return self._update_op(n, write, shape, account_ids, current_events)
        if write.kind is RecordKind.EVENT_INVITEE:
            relation = invitations.get(write.id)
            if relation is None:
                return None  # the user is no longer invited: nothing to do
            return Op(n, "delete", "EventRelation", record_id=relation, result_id=write.id)
        return Op(n, "delete", "", record_id=write.id)

    def _create_op(
        self, n: int, write: Create, shape: OrgShape, addresses: dict[str, str], account_ids: dict[str, str]
    ) -> Op:
        record = write.record
        key: Key = (write.kind.value, write.key)
        if isinstance(record, EmailActivity):
            if record.mode is EmailMode.EMAIL_MESSAGE:
                fields, senders = email_message(record, shape, write.key, addresses)
                return Op(
                    n, "create", "EmailMessage", fields, key=key, sender=senders[0] if senders else None
                )
            return Op(
                n, "create", "Task", email_task(record, shape, write.key), key=key, message_id=write.key
            )
        if isinstance(record, EventRecord | CalendarItem):
            return self._upsertable(n, "Event", event_create(record, shape, write.key), shape, key)
        if isinstance(record, EventInvitee):
            return Op(n, "create", "EventRelation", event_invitee(record), result_id=record.event_id, key=key)
        if isinstance(record, EmailRecipient):
            return Op(
                n,
                "create",
                "EmailMessageRelation",
                email_recipient(record),
                result_id=record.email_id,
                key=key,
            )
        if isinstance(record, TaskItem):
            return self._upsertable(n, "Task", task_create(record, shape, write.key), shape, key)
        if isinstance(record, ContactItem):
            account = record.account_id or account_ids.get(record.company.strip().casefold())
            return self._upsertable(
                n, "Contact", contact_create(record, account, shape, write.key), shape, key
            )
        if isinstance(record, NewPerson):
            fields = new_person(record)
            return Op(n, "create", fields["attributes"]["type"], fields, key=key)
        if isinstance(record, NewAccount):
            return Op(n, "create", "Account", new_account(record), key=key)
        raise ValueError(f"rgsync cannot create a {type(record).__name__} in Salesforce")

    @staticmethod
    def _upsertable(n: int, sobject: str, fields: dict[str, Any], shape: OrgShape, key: Key) -> Op:
        key_field = shape.key_field(sobject)
        return Op(n, "create", sobject, fields, key=key, upsert_field=key_field or "")

    def _update_op(
        self,
        n: int,
        write: Update,
        shape: OrgShape,
        account_ids: dict[str, str],
        current_events: dict[str, CalendarItem],
    ) -> Op | None:
        sobject = KIND_SOBJECT.get(write.kind)
        if sobject is None:
            raise ValueError(f"rgsync does not update {write.kind.value} records in Salesforce")
        if write.kind is RecordKind.EVENT:
            fields, unknown = event_update(write.changes, shape, current_events.get(write.id[:15]))
        elif write.kind is RecordKind.TASK:
            fields, unknown = task_update(write.changes)
        else:
            fields, unknown = contact_update(write.changes)
            company = write.changes.get("company")
            if isinstance(company, str) and "account_id" not in write.changes:
                fields["AccountId"] = account_ids.get(company.strip().casefold()) if company.strip() else None
        if unknown:
            raise ValueError(f"cannot write {', '.join(sorted(unknown))} of a {sobject} to Salesforce")
        if not fields:
            return None
        return Op(
            n,
            "update",
            sobject,
            {"attributes": {"type": sobject}, "id": write.id, **fields},
            record_id=write.id,
        )
