"""Writing to the org: sObject Collections, ≤ 200 records a call, one WriteResult per write.

* Creates go through `POST composite/sobjects` (allOrNone false), records grouped by type so a
  call never has more than the 10 type chunks Salesforce allows; records of a type that carries
  rgsync's external-id field go through the upsert form (`PATCH composite/sobjects/{Type}/{Field}`)
  so a create that is sent twice cannot make two records. Email Tasks and EmailMessages are never
  upserted: their create-only fields (TaskSubtype, the email's body) would refuse the update half.
* Updates go through `PATCH composite/sobjects`, deletes through `DELETE composite/sobjects?ids=`.
* Per-record refusals become failed WriteResults: FIELD_CUSTOM_VALIDATION_EXCEPTION → SF-VALIDATION,
  REQUIRED_FIELD_MISSING → SF-REQUIRED-FIELD, DUPLICATES_DETECTED → SF-DUPLICATE, others
  'SF-' + Salesforce's code. Deleting a record that is already gone counts as done.
* Creates and updates carry `Sforce-Duplicate-Rule-Header: allowSave=false;
  includeRecordDetails=false; runAsCurrentUser=true`: a duplicate rule that fires on a Lead or
  Contact rgsync creates refuses it (SF-DUPLICATE, an issue the user can act on) instead of
  silently making a second record of a person; the rule runs with the user's own sharing, the same
  visibility rgsync's address lookup had; record details are not needed and would only grow the
  answer.
* A call that fails transiently may have been carried out all the same (a timeout after Salesforce
  saved the records). The session retries `apply` with the same writes; creates already answered
  are not sent again, and creates of the failed call are first looked up by natural key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rgsync.model import (
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    EmailActivity,
    EmailMode,
    EventInvitee,
    EventRecord,
    NewAccount,
    NewPerson,
    OrgInfo,
    RecordKind,
    TaskItem,
    Update,
    Write,
    WriteResult,
)
from rgsync.providers.base import ProviderError, RetriableError
from rgsync.providers.salesforce import soql
from rgsync.providers.salesforce.client import SalesforceClient
from rgsync.providers.salesforce.lookups import Lookups
from rgsync.providers.salesforce.mapping import (
    OrgShape,
    contact_create,
    contact_update,
    email_message,
    email_task,
    event_create,
    event_from_record,
    event_invitee,
    event_update,
    new_account,
    new_person,
    sender_relation,
    task_create,
    task_update,
)

log = logging.getLogger("rgsync.salesforce")

BATCH = 200
MAX_CHUNKS = 10
DUPLICATE_RULE_HEADER = {
    "Sforce-Duplicate-Rule-Header": "allowSave=false; includeRecordDetails=false; runAsCurrentUser=true"
}
ERROR_CODES = {
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "SF-VALIDATION",
    "REQUIRED_FIELD_MISSING": "SF-REQUIRED-FIELD",
    "DUPLICATES_DETECTED": "SF-DUPLICATE",
    "ENTITY_IS_DELETED": "SF-NOT-FOUND",
}
GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})
KIND_SOBJECT = {RecordKind.EVENT: "Event", RecordKind.TASK: "Task", RecordKind.CONTACT: "Contact"}
Key = tuple[str, str]


def error_code(status_code: str) -> str:
    """rgsync's stable issue code for a Salesforce per-record statusCode."""
    return ERROR_CODES.get(status_code, f"SF-{status_code}" if status_code else "SF-WRITE-FAILED")


@dataclass
class _Op:
    """One write as it will be sent."""

    index: int
    method: str  # create | update | delete
    sobject: str
    record: dict[str, Any] = field(default_factory=dict)
    record_id: str = ""
    upsert_field: str = ""
    result_id: str = ""  # the id to report (EventInvitee → the Event)
    key: Key | None = None
    sender: tuple[str, str] | None = None  # EmailMessage: (person id, address) of the sender
    message_id: str = ""  # email Task: its Message-ID


@dataclass
class _Attempt:
    """What an apply that failed transiently had done, for the retry."""

    done: dict[Key, WriteResult] = field(default_factory=dict)
    uncertain: set[Key] = field(default_factory=set)


class Writer:
    """`Crm.apply` for the Salesforce adapter (see the module docstring)."""

    def __init__(
        self,
        client: SalesforceClient,
        lookups: Lookups,
        org: Callable[[], OrgInfo],
        shape: Callable[[], OrgShape],
    ) -> None:
        self.client = client
        self.lookups = lookups
        self.org = org
        self.shape = shape
        self._failed: _Attempt | None = None

    # -- entry ---------------------------------------------------------------------------------------
    def apply(self, writes: Sequence[Write]) -> list[WriteResult]:
        """One result per write, in order; transient failures raise (the session retries)."""
        results: list[WriteResult | None] = [None] * len(writes)
        previous, attempt = self._failed, _Attempt()
        self._failed = None
        if previous is not None:
            self._recover(writes, results, previous, attempt)
        try:
            ops = self._prepare(writes, results)
            self._execute(ops, results, attempt)
        except RetriableError:
            self._failed = attempt
            raise
        return [r if r is not None else WriteResult(ok=False, error_code="SF-WRITE-FAILED") for r in results]

    def _recover(
        self,
        writes: Sequence[Write],
        results: list[WriteResult | None],
        previous: _Attempt,
        attempt: _Attempt,
    ) -> None:
        """Reuse answers of the failed attempt; look up its uncertain creates by natural key."""
        uncertain: dict[RecordKind, list[tuple[int, str]]] = {}
        for n, write in enumerate(writes):
            if not isinstance(write, Create):
                continue
            key = (write.kind.value, write.key)
            if key in previous.done:
                results[n] = attempt.done[key] = previous.done[key]
            elif key in previous.uncertain:
                uncertain.setdefault(write.kind, []).append((n, write.key))
        for kind, entries in uncertain.items():
            try:
                found = self.lookups.find_existing(kind, [k for _, k in entries])
            except RetriableError:
                attempt.uncertain |= {(kind.value, k) for _, k in entries}
                attempt.done |= previous.done
                raise
            for n, natural_key in entries:
                if natural_key in found:
                    results[n] = attempt.done[(kind.value, natural_key)] = WriteResult(
                        ok=True, id=found[natural_key]
                    )

    # -- mapping ------------------------------------------------------------------------------------------
    def _prepare(self, writes: Sequence[Write], results: list[WriteResult | None]) -> list[_Op]:
        shape = self.shape()
        todo = [(n, w) for n, w in enumerate(writes) if results[n] is None]
        addresses = self._email_people(todo)
        account_ids = self._accounts_for_contacts(todo, results)
        current_events = self._current_events(todo)
        invitations = self._invitations(todo)
        ops: list[_Op] = []
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
    ) -> _Op | None:
        if isinstance(write, Create):
            return self._create_op(n, write, shape, addresses, account_ids)
        if isinstance(write, Update):
            return self._update_op(n, write, shape, account_ids, current_events)
        if write.kind is RecordKind.EVENT_INVITEE:
            relation = invitations.get(write.id)
            if relation is None:
                return None  # the user is no longer invited: nothing to do
            return _Op(n, "delete", "EventRelation", record_id=relation, result_id=write.id)
        return _Op(n, "delete", "", record_id=write.id)

    def _create_op(
        self, n: int, write: Create, shape: OrgShape, addresses: dict[str, str], account_ids: dict[str, str]
    ) -> _Op:
        record = write.record
        key: Key = (write.kind.value, write.key)
        if isinstance(record, EmailActivity):
            if record.mode is EmailMode.EMAIL_MESSAGE:
                fields, senders = email_message(record, shape, write.key, addresses)
                return _Op(
                    n, "create", "EmailMessage", fields, key=key, sender=senders[0] if senders else None
                )
            return _Op(
                n, "create", "Task", email_task(record, shape, write.key), key=key, message_id=write.key
            )
        if isinstance(record, EventRecord | CalendarItem):
            return self._upsertable(n, "Event", event_create(record, shape, write.key), shape, key)
        if isinstance(record, EventInvitee):
            return _Op(
                n, "create", "EventRelation", event_invitee(record), result_id=record.event_id, key=key
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
            return _Op(n, "create", fields["attributes"]["type"], fields, key=key)
        if isinstance(record, NewAccount):
            return _Op(n, "create", "Account", new_account(record), key=key)
        raise ValueError(f"rgsync cannot create a {type(record).__name__} in Salesforce")

    @staticmethod
    def _upsertable(n: int, sobject: str, fields: dict[str, Any], shape: OrgShape, key: Key) -> _Op:
        key_field = shape.key_field(sobject)
        return _Op(n, "create", sobject, fields, key=key, upsert_field=key_field or "")

    def _update_op(
        self,
        n: int,
        write: Update,
        shape: OrgShape,
        account_ids: dict[str, str],
        current_events: dict[str, CalendarItem],
    ) -> _Op | None:
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
        return _Op(
            n,
            "update",
            sobject,
            {"attributes": {"type": sobject}, "id": write.id, **fields},
            record_id=write.id,
        )

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
                _Op(i, "create", "Account", new_account(NewAccount(name, "")))
                for i, name in enumerate(missing)
            ]
            created: list[WriteResult | None] = [None] * len(ops)
            self._execute(ops, created, _Attempt())
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

    # -- sending -------------------------------------------------------------------------------------------------
    def _execute(self, ops: list[_Op], results: list[WriteResult | None], attempt: _Attempt) -> None:
        creates = [op for op in ops if op.method == "create"]
        upserts: dict[tuple[str, str], list[_Op]] = {}
        plain: list[_Op] = []
        for op in creates:
            if op.upsert_field:
                upserts.setdefault((op.sobject, op.upsert_field), []).append(op)
            else:
                plain.append(op)
        for (sobject, key_field), group in upserts.items():
            for chunk in _chunks(group):
                self._send(chunk, f"composite/sobjects/{sobject}/{key_field}", "PATCH", results, attempt)
        for chunk in _chunks(sorted(plain, key=lambda op: op.sobject)):
            self._send(chunk, "composite/sobjects", "POST", results, attempt)
        updates = [op for op in ops if op.method == "update"]
        for chunk in _chunks(sorted(updates, key=lambda op: op.sobject)):
            self._send(chunk, "composite/sobjects", "PATCH", results, attempt)
        deletes = [op for op in ops if op.method == "delete"]
        for chunk in _chunks(deletes, by_type=False):
            self._send(chunk, "composite/sobjects", "DELETE", results, attempt)
        self._after_emails(creates, results)

    def _send(
        self, chunk: list[_Op], path: str, method: str, results: list[WriteResult | None], attempt: _Attempt
    ) -> None:
        """One sObject Collections call; its per-record answers go into `results`."""
        try:
            if method == "DELETE":
                params = {"ids": ",".join(op.record_id for op in chunk), "allOrNone": "false"}
                answer = self.client.restful(path, method=method, params=params)
            else:
                body = {"allOrNone": False, "records": [op.record for op in chunk]}
                answer = self.client.restful(path, method=method, body=body, headers=DUPLICATE_RULE_HEADER)
        except RetriableError:
            attempt.uncertain |= {op.key for op in chunk if op.key is not None}
            raise
        answers = answer if isinstance(answer, list) else []
        if len(answers) != len(chunk):
            raise RetriableError(
                f"Salesforce answered {len(answers)} results for {len(chunk)} records", code="SF-BAD-ANSWER"
            )
        for op, item in zip(chunk, answers, strict=True):
            result = self._result(op, item if isinstance(item, dict) else {})
            results[op.index] = result
            if result.ok and op.key is not None:
                attempt.done[op.key] = result
            if result.ok and op.message_id and result.id:
                self.lookups.remember_email_task(op.message_id, result.id)

    @staticmethod
    def _result(op: _Op, item: dict[str, Any]) -> WriteResult:
        if item.get("success"):
            return WriteResult(ok=True, id=op.result_id or str(item.get("id") or op.record_id) or None)
        errors = item.get("errors") or [{}]
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str(first.get("statusCode") or first.get("errorCode") or "")
        message = str(first.get("message") or "Salesforce refused the record")
        if op.method == "delete" and code in GONE:
            return WriteResult(ok=True, id=op.result_id or op.record_id)
        if op.sobject == "EventRelation" and op.method == "create" and code == "DUPLICATE_VALUE":
            return WriteResult(ok=True, id=op.result_id)  # already invited
        return WriteResult(ok=False, error_code=error_code(code), message=message)

    def _after_emails(self, creates: list[_Op], results: list[WriteResult | None]) -> None:
        """FromAddress relations for emails whose sender is a people record (see mapping)."""
        relations: list[_Op] = []
        for op in creates:
            result = results[op.index]
            if op.sender is not None and result is not None and result.ok and result.id:
                relations.append(
                    _Op(
                        len(relations),
                        "create",
                        "EmailMessageRelation",
                        sender_relation(result.id, *op.sender),
                    )
                )
        if not relations:
            return
        outcome: list[WriteResult | None] = [None] * len(relations)
        try:
            self._execute(relations, outcome, _Attempt())
        except ProviderError as exc:
            # The emails are saved; a missing sender relation must not undo that (nor be retried
            # by sending the emails again). The next call that fails the same way says so.
            log.warning("could not relate %d emails to their senders: %s", len(relations), exc.message)
            return
        refused = [r for r in outcome if r is not None and not r.ok]
        if refused:
            log.warning("Salesforce refused %d sender relations (%s)", len(refused), refused[0].error_code)


def _chunks(ops: list[_Op], *, by_type: bool = True) -> list[list[_Op]]:
    """Runs of at most 200 records and (for creates/updates) at most 10 type chunks."""
    out: list[list[_Op]] = []
    current: list[_Op] = []
    types = 0
    for op in ops:
        new_type = not current or current[-1].sobject != op.sobject
        if current and (len(current) == BATCH or (by_type and new_type and types == MAX_CHUNKS)):
            out.append(current)
            current, types = [], 0
            new_type = True
        if new_type:
            types += 1
        current.append(op)
    if current:
        out.append(current)
    return out


__all__ = ["DUPLICATE_RULE_HEADER", "Writer", "error_code"]
