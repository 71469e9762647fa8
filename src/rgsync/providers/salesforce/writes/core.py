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
* EmailMessages are saved together with their sender relations (see `writes.sending`). An email
  that an older or interrupted session saved without its relation is completed by
  `complete_emails`, which recovery calls for every email it adopts.
* A call that fails transiently may have been carried out all the same (a timeout after Salesforce
  saved the records). The session retries `apply` with the same writes; creates already answered
  are not sent again, and creates of the failed call are first looked up by natural key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rgsync.model import Create, OrgInfo, RecordKind, Write, WriteResult
from rgsync.providers.base import RetriableError, SavedEmail
from rgsync.providers.salesforce import soql
from rgsync.providers.salesforce.client import SalesforceClient
from rgsync.providers.salesforce.lookups import Lookups
from rgsync.providers.salesforce.mapping import OrgShape, sender_relation
from rgsync.providers.salesforce.writes.batches import Attempt, Op, chunk_ops
from rgsync.providers.salesforce.writes.prepare import WritePreparation

EMAIL_MESSAGE_PREFIX = "02s"


class Writer(WritePreparation):
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
        self._failed: Attempt | None = None

    # -- entry ---------------------------------------------------------------------------------------
    def apply(self, writes: Sequence[Write]) -> list[WriteResult]:
        """One result per write, in order; transient failures raise (the session retries)."""
        results: list[WriteResult | None] = [None] * len(writes)
        previous, attempt = self._failed, Attempt()
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
        previous: Attempt,
        attempt: Attempt,
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
        if RecordKind.EMAIL in uncertain:
            self.lookups.forget_email_tasks()
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

    # -- completing adopted emails -----------------------------------------------------------------------
    def complete_emails(self, emails: Sequence[SavedEmail]) -> list[WriteResult]:
        """Create the `FromAddress` relation of EmailMessages that lack it; one result per email.

        One query finds which emails already have one, one finds the people's addresses (the
        sender relation goes to the person among `who_ids` whose address is the sender's, as when
        the email was first sent), and the missing relations go out in sObject Collections calls.
        Email Tasks carry their people in the Task itself and need nothing.
        """
        results = [WriteResult(ok=True, id=e.record_id) for e in emails]
        todo = [
            (n, e)
            for n, e in enumerate(emails)
            if e.sender and e.who_ids and e.record_id.startswith(EMAIL_MESSAGE_PREFIX)
        ]
        if not todo:
            return results
        template = (
            "SELECT EmailMessageId, RelationId FROM EmailMessageRelation "
            "WHERE RelationType = 'FromAddress' AND EmailMessageId IN "
        )
        queries = soql.chunked_in_queries(template.__add__, [e.record_id for _, e in todo], soql.record_id)
        # Salesforce files every email's sender by address on its own; only a relation naming one
        # of the email's people is the link rgsync writes.
        related = {
            (str(row["EmailMessageId"])[:15], str(row.get("RelationId") or "")[:15])
            for rows in self.client.queries(queries)
            for row in rows
        }
        missing = [
            (n, e) for n, e in todo if not any((e.record_id[:15], who[:15]) in related for who in e.who_ids)
        ]
        addresses = self.lookups.person_addresses({who for _, e in missing for who in e.who_ids})
        ops: list[Op] = []
        for n, email in missing:
            sender = email.sender.lower()
            person = next((w for w in email.who_ids if addresses.get(w) == sender), None)
            if person is not None:
                record = sender_relation(email.record_id, person, sender)
                ops.append(Op(n, "create", "EmailMessageRelation", record))
        outcome: list[WriteResult | None] = [None] * len(emails)
        for chunk in chunk_ops(ops):
            self._send(chunk, "composite/sobjects", "POST", outcome, Attempt())
        for op in ops:
            answer = outcome[op.index]
            if answer is not None and not answer.ok:
                results[op.index] = answer
        return results
